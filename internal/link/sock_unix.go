//go:build unix

package link

import (
	"net"
	"syscall"
)

// pendingReset reports whether a reset has ended c: the socket's pending error is ECONNRESET,
// or EPIPE (a reset that arrives after the peer's FIN).
func pendingReset(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var soErr int
	rc.Control(func(fd uintptr) {
		soErr, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
	})
	return syscall.Errno(soErr) == syscall.ECONNRESET || syscall.Errno(soErr) == syscall.EPIPE
}
