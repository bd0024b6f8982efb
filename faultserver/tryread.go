package faultserver

import (
	"net"
	"syscall"
	"time"

	"github.com/gatecrash/gatecrash/internal/sockio"
)

// tryReader is a connection's reader (under its bufio.Reader) that can be asked, for one
// read, not to wait: the relay's steady path. After writing a request or an answer the
// relay yields to the other connections' goroutines and then tries to read what the peer
// has sent meanwhile; under load it is usually there, and the read that would have found
// nothing (EAGAIN), the park in the netpoller and the wake-up are skipped — two syscalls
// and a round trip through the scheduler per request fewer. When the try finds nothing, the
// caller waits as usual.
type tryReader struct {
	nc   net.Conn
	rc   syscall.RawConn // nil: the connection cannot be read without waiting (TLS)
	ring *ringSock       // the connection in the server's io_uring, nil without
	// try makes the next Read not wait: it returns errWouldBlock when nothing is there.
	try bool
	// inWait: Read is called inside a wait of the poller (RawConn.Read) on the socket fd,
	// and reads it without waiting (readNow)
	inWait bool
	fd     uintptr
	// timeout, when > 0, bounds each read that waits (an inactivity bound, set as a deadline
	// before the read).
	timeout time.Duration
	misses  uint8 // consecutive tries that found nothing
	// hasDeadline: a read deadline may be set on nc (the caller clears it before a wait that
	// must have none)
	hasDeadline bool

	// for tryRead's closure, built once
	p   []byte
	n   int
	err error
	fn  func(fd uintptr)
}

// errWouldBlock is a try that found nothing to read.
var errWouldBlock = sockio.ErrWouldBlock

func newTryReader(nc net.Conn) *tryReader {
	r := &tryReader{nc: nc}
	if tc, ok := nc.(*net.TCPConn); ok {
		r.rc, _ = tc.SyscallConn()
	}
	return r
}

func (r *tryReader) Read(p []byte) (int, error) {
	if r.ring != nil {
		// what the ring received comes first, then the app's FIN or reset as its read met it
		if n, _, err := r.ring.read(p); err != errWouldBlock {
			return n, err
		}
	}
	if r.inWait {
		return sockio.ReadNow(r.fd, p)
	}
	if r.try {
		r.try = false
		return r.tryRead(p)
	}
	if r.timeout > 0 {
		r.nc.SetReadDeadline(time.Now().Add(r.timeout))
		r.hasDeadline = true
	}
	return r.nc.Read(p)
}

// worthTrying says whether to try a read without waiting now: while tries find data, and
// after a run of misses (a peer that takes its time, or little load) only now and then, so
// that a quiet connection does not pay for a try that finds nothing every time.
func (r *tryReader) worthTrying(n int) bool {
	return r.rc != nil && (r.misses < 3 || n%16 == 0)
}

// tried records the outcome of a try.
func (r *tryReader) tried(found bool) {
	if found {
		r.misses = 0
	} else if r.misses < 255 {
		r.misses++
	}
}
