package faultserver

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// On Linux the server can see its socket queues: whether request bytes are still unread when
// it closes (the kernel then sends RST, not FIN), whether what it wrote has left the host,
// and whether a request has started without taking any byte of it.
const (
	queueSizesSupported = true
	peekSupported       = true
)

// unreadInKernel returns how many received bytes the server has not read from the socket.
func (c *conn) unreadInKernel() int { return c.sockIoctl(unix.SIOCINQ) }

// unsentInKernel returns how many written bytes have not been transmitted yet.
func (c *conn) unsentInKernel() int { return c.sockIoctl(unix.SIOCOUTQNSD) }

func (c *conn) sockIoctl(req uint) int {
	if c.raw == nil {
		return 0
	}
	rc, err := c.raw.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), req) })
	return n
}

// waitReadable blocks until at least one byte can be read (respecting the read deadline)
// without consuming it. It returns io.EOF when the peer has closed.
func (c *conn) waitReadable() error {
	rc, err := c.raw.SyscallConn()
	if err != nil {
		return err
	}
	var one [1]byte
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, e := unix.Recvfrom(int(fd), one[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case e == unix.EAGAIN || e == unix.EINTR:
			return false // not readable yet: wait for the poller
		case e != nil:
			rerr = os.NewSyscallError("recvfrom", e)
		case n == 0:
			rerr = io.EOF
		}
		return true
	})
	if err != nil {
		return err
	}
	return rerr
}
