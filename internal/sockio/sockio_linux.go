package sockio

import (
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Supported says whether ReadNow and WriteNow work on this platform.
const Supported = true

// ReadNow reads the socket fd without waiting: ErrWouldBlock when nothing is there. It calls
// recvfrom(2) (the socket's own call: read(2) goes through the file layer first) through
// RawSyscall: on the non-blocking socket it never blocks, so the runtime's bookkeeping for a
// call that may block is not needed.
func ReadNow(fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0, 0, 0)
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			return 0, ErrWouldBlock
		case errno != 0:
			return 0, os.NewSyscallError("read", errno)
		case n == 0:
			return 0, io.EOF
		}
		return int(n), nil
	}
}

// WriteNow writes p to the socket fd without waiting, as ReadNow reads: sendto(2), with
// MSG_NOSIGNAL (a peer gone is EPIPE, never a SIGPIPE), through RawSyscall. It returns how
// much went out and ErrWouldBlock when the socket's send buffer took less than all of p (the
// caller writes the rest through the connection, which waits).
func WriteNow(fd uintptr, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n), unix.MSG_NOSIGNAL, 0, 0)
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			return n, ErrWouldBlock
		case errno != 0:
			return n, os.NewSyscallError("write", errno)
		}
		n += int(k)
	}
	return n, nil
}
