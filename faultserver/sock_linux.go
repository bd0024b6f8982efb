package faultserver

import (
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gatecrash/gatecrash/internal/sockio"
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
// without consuming it. It returns io.EOF when the peer has closed. It calls recvfrom(2)
// itself with no address buffer and a closure built once per connection, so that it does not
// allocate (unix.Recvfrom puts a 112-byte address buffer on the heap per call).
func (c *conn) waitReadable() error {
	if c.peek == nil {
		rc, err := c.raw.SyscallConn()
		if err != nil {
			return err
		}
		p := &peeker{rc: rc}
		p.fn = func(fd uintptr) bool {
			n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.one[0])), 1,
				unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
			p.err = nil
			switch {
			case errno == unix.EAGAIN || errno == unix.EINTR:
				return false // not readable yet: wait for the poller
			case errno != 0:
				p.err = os.NewSyscallError("recvfrom", errno)
			case n == 0:
				p.err = io.EOF
			}
			return true
		}
		c.peek = p
	}
	if err := c.peek.rc.Read(c.peek.fn); err != nil {
		return err
	}
	return c.peek.err
}

// peeker is a connection's non-consuming read, set up on first use.
type peeker struct {
	rc  syscall.RawConn
	one [1]byte
	err error
	fn  func(fd uintptr) bool
}

// fdLimit returns the process's open-file limit (RLIMIT_NOFILE, which Go has raised to the
// hard limit at start-up).
func fdLimit() (uint64, bool) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return r.Cur, true
}

// tryRead reads into p without waiting (readNow, on the non-blocking socket); with a closure
// built once per reader it does not allocate.
func (r *tryReader) tryRead(p []byte) (int, error) {
	if r.rc == nil {
		return 0, errWouldBlock
	}
	if r.fn == nil {
		r.fn = func(fd uintptr) { r.n, r.err = sockio.ReadNow(fd, r.p) }
	}
	r.p = p
	if err := r.rc.Control(r.fn); err != nil {
		r.p = nil
		return 0, err
	}
	r.p = nil
	return r.n, r.err
}

// steadySupported: the steady path (steady.go) reads the socket itself.
const steadySupported = true
