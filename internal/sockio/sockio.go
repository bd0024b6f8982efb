// Package sockio reads and writes a non-blocking socket directly, for code that holds the
// socket inside a wait of Go's poller (syscall.RawConn.Read): the fault server's steady path
// and relay, and the load generator's request exchange. Inside such a wait the socket's
// readiness is kept from the moment the wait began, so a caller can send and then wait for
// the answer without the read that finds nothing (EAGAIN) which net.Conn.Read makes first.
package sockio

import (
	"errors"
	"io"
)

// ErrWouldBlock is a read that found nothing, or a write the send buffer did not take whole.
var ErrWouldBlock = errors.New("nothing to read yet")

// Write writes p whole to the socket fd: what its send buffer takes at once by WriteNow, the
// rest through w (the socket's connection, which waits for room). Its errors are WriteNow's
// or w's as they came.
func Write(fd uintptr, w io.Writer, p []byte) (int, error) {
	n, err := WriteNow(fd, p)
	if err != ErrWouldBlock {
		return n, err
	}
	k, err := w.Write(p[n:])
	return n + k, err
}
