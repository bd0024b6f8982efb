package loadgen

import (
	"net"
	"runtime"
	"syscall"

	"github.com/gatecrash/gatecrash/internal/sockio"
)

// The exchange inside one wait of the poller: on a plain TCP connection (where the platform
// allows) a request is written and its response's first bytes read inside one
// syscall.RawConn.Read. The socket's readiness is cleared when that wait begins, before the
// request goes out: after the one read made when the request has gone out (after a yield to
// the other workers), what arrives wakes the wait, and the read that net.Conn.Read would make
// again before it waits (its readiness is cleared when it begins) is saved. The socket is
// written and read without the runtime's bookkeeping for a call that may block (sockio). The
// rest of the response is read as before, through the connection.

// waitExchange is a connection's state for exchanges inside one wait; nil on a TLS
// connection or where the platform cannot.
type waitExchange struct {
	rc  syscall.RawConn
	out []byte
	// look: the look at the reused connection is made inside the wait, first (then what
	// arrived before it is known, and what arrives after wakes the wait: no read is needed
	// before the wait); discard: a close it finds ends the exchange before the write
	// (stale), as the client model says
	look, discard bool
	looked        liveness
	stale         bool
	// the read after the yield: being made (trying), how many of the last ones found nothing
	// (up to 3), and a count of the exchanges since that many (every 16th tries again)
	trying          bool
	misses, skipped uint8
	sent            bool
	werr            error // the write failed
	rerr            error // the first read failed
	inner           bool  // countingConn.Read is inside the wait: it reads fd without waiting
	fd              uintptr
	fn              func(fd uintptr) bool
}

// newWaitExchange sets up the exchange inside one wait for c, whose connection is the plain
// TCP one under rc (nil: it is not, or cannot be).
func newWaitExchange(c *conn, rc syscall.RawConn) *waitExchange {
	if rc == nil || !sockio.Supported {
		return nil
	}
	x := &waitExchange{rc: rc}
	x.fn = func(fd uintptr) bool { return c.exchangeStep(fd) }
	return x
}

// exchangeInWait writes b and waits for the first bytes of the answer, which it reads into
// c.br. werr is a failed write (nothing was read); rerr a failed wait or first read.
func (c *conn) exchangeInWait(b []byte) (werr, rerr error) {
	x := c.x
	x.out, x.sent, x.werr, x.rerr, x.stale = b, false, nil, nil, false
	err := x.rc.Read(x.fn)
	x.inner, x.out = false, nil
	switch {
	case x.werr != nil:
		return x.werr, nil
	case x.rerr != nil:
		return nil, x.rerr
	}
	if oe, ok := err.(*net.OpError); ok && oe.Op == "raw-read" {
		oe.Op = "read" // a deadline or an abort met in the wait: it reads as net.Conn.Read's
	}
	return nil, err
}

// exchangeStep is exchangeInWait's loop: the first call writes the request, each after a
// wake-up reads what is there. It returns false to wait, true when done.
func (c *conn) exchangeStep(fd uintptr) bool {
	x := c.x
	if !x.sent {
		if x.look {
			if x.looked = c.look.lookFD(fd); x.looked == peerClosed && x.discard {
				x.stale = true
				return true
			}
		}
		x.sent = true
		n, err := sockio.Write(fd, c.nc.Conn, x.out)
		c.nc.written += int64(n)
		if err != nil {
			if _, ok := err.(*net.OpError); !ok {
				err = c.nc.opError("write", err) // WriteNow's, not the connection's
			}
			x.werr = err
			return true
		}
		if x.look && x.looked == alive && x.misses >= 3 {
			// Nothing was there when the wait began, and lately the read after the yield
			// found nothing either (the server takes longer than the other workers' turns —
			// two cores, say): wait at once; what comes now wakes the wait. Every 16th time
			// the read is tried again.
			if x.skipped++; x.skipped%16 != 0 {
				return false
			}
		}
		x.trying = true
		// Read once before the first wait: what the server sent before the wait began — the
		// FIN or RST of a stale connection above all — woke no one since, and only a read
		// finds it. Other workers write their requests first: the answer is usually there
		// by then.
		runtime.Gosched()
	}
	x.fd, x.inner = fd, true
	_, err := c.br.Peek(1)
	x.inner = false
	if x.trying {
		x.trying = false
		if err == sockio.ErrWouldBlock {
			x.misses = min(x.misses+1, 3)
		} else {
			x.misses = 0
		}
	}
	if err == sockio.ErrWouldBlock {
		return false // nothing yet: wait (what arrives from now on wakes the wait)
	}
	x.rerr = err
	return true
}

// opError wraps a socket call's error as net.Conn's own calls do, so that what a run
// records of it (exemplars) reads the same either way.
func (c *countingConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
