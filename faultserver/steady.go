package faultserver

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/gatecrash/gatecrash/internal/sockio"
)

// The steady path: a plain TCP connection's keep-alive requests after its first, served the
// way nginx does it. Go's net.Conn.Read tries read(2) before it waits in the
// poller, because the poller's readiness is cleared at the start of each read (whatever
// arrived before must be found by that read); on a keep-alive connection that read, right
// after an answer went out, finds nothing (EAGAIN) nearly every time: one system call in
// three. Here the connection's requests are read and answered inside one wait of the poller
// (RawConn.Read), which clears the readiness once: each read is made while the readiness of
// everything that arrives after it is kept, so after a short read the loop waits for the
// poller at once, as nginx does.
//
// Inside that wait the connection must not be read through net.Conn (its read lock is held)
// nor closed (Close waits for the wait to end): the loop serves only a request whose head is
// all here and that has no body, needs no answer to Expect and names no fault header
// (steadyHead); a fault the plan chooses acts after the wait (requestFault, responseFault),
// and a close the request's handling asks for is made when the wait has ended (closeSocket).
// Anything else leaves the loop with the connection as it is, and the general request loop
// goes on from there.

// sockSource is br's source on a plain TCP connection: the connection (in relay mode its
// tryReader), except inside the steady loop, where it reads the socket without waiting
// (sockio.ReadNow: errWouldBlock when nothing is there).
type sockSource struct {
	nc      net.Conn
	outside io.Reader // what is read outside the loop: nc, or in relay mode its tryReader
	fd      uintptr
	inWait  bool
	// drained: in the steady loop, the last read returned less than it asked for, which
	// on Linux means the socket's queue was empty (tcp_recvmsg stops short only then)
	drained bool
	misses  uint64    // reads in the steady loop that found nothing
	ring    *ringSock // the socket in the server's io_uring (WithIOUring), nil without
}

func (s *sockSource) Read(p []byte) (int, error) {
	if s.ring != nil && (s.inWait || s.ring.buffered() > 0) {
		// what the ring received is read first, inside the loop or after it
		n, drained, err := s.ring.read(p)
		s.drained = drained
		if err == errWouldBlock {
			if !s.inWait {
				return s.outside.Read(p)
			}
			s.misses++
		}
		return n, err
	}
	if !s.inWait {
		return s.outside.Read(p)
	}
	n, err := sockio.ReadNow(s.fd, p)
	s.drained = err == nil && n < len(p)
	if err == errWouldBlock {
		s.misses++
	}
	return n, err
}

// steady is the steady loop's state on one connection, set up when the connection starts.
type steady struct {
	src          sockSource
	rc           syscall.RawConn
	fn           func(fd uintptr) bool // the loop, built once
	ringErr      error                 // how the ring's wait ended (ringLoop)
	ended        bool                  // the loop ended the connection
	served       uint64                // requests the current loop took
	closePending bool                  // a close asked for inside the loop, made after it
	chosen       bool                  // the coming wait's faults have been chosen

	// a fault chosen for the current request inside the loop, to act when it has left
	pendReq    RequestFault
	pendResp   ResponseFault
	pendTunnel bool // relay mode: the app switched protocols; the tunnel runs after the wait
}

// startSteady sets up the steady path on a plain TCP connection and returns br's source,
// which reads from outside when not in the loop.
func (c *conn) startSteady(outside io.Reader) io.Reader {
	c.st = &steady{src: sockSource{nc: c.nc, outside: outside}}
	if !steadySupported || c.srv.noSteady {
		return &c.st.src
	}
	rc, err := c.raw.SyscallConn()
	if err != nil {
		return &c.st.src
	}
	c.st.rc = rc
	c.st.fn = c.steadyLoop
	if c.ring != nil {
		var fd int
		rc.Control(func(f uintptr) { fd = int(f) })
		rs := c.ring.add(fd)
		c.st.src.ring = rs
		c.rsock.Store(rs)
		c.st.fn = c.ringLoop
	}
	return &c.st.src
}

// ringLoop is the steady loop with the server's io_uring (ring.go): the loop's wait for the
// socket is the ring's, bounded by the deadline the loop set, and the answers written are
// all sent before it returns.
func (c *conn) ringLoop(fd uintptr) bool {
	st := c.st
	rs := st.src.ring
	st.ringErr = nil
	c.rdl = time.Time{}
	for !c.steadyLoop(fd) {
		if st.ringErr = rs.wait(c.rdl); st.ringErr != nil {
			break
		}
	}
	if err := rs.flush(); err != nil && st.ringErr == nil && !st.ended {
		c.peerGone(err)
		st.ended = true
	}
	return true
}

// leaveRing takes the ended connection's socket out of the ring.
func (c *conn) leaveRing() {
	if rs := c.rsock.Load(); rs != nil {
		rs.release()
	}
}

// closeForShutdown closes the connection for a shutting-down Serve: in the ring, its read
// is cancelled first (Close waits for the steady loop's wait to end).
func (c *conn) closeForShutdown() {
	if rs := c.rsock.Load(); rs != nil {
		rs.cancel()
	}
	c.nc.Close()
}

// serveSteady serves requests on the steady path while it can. It reports whether the
// connection ended, and when not, whether the general loop takes the coming wait or the
// request that is buffered (general; else a fault chosen inside the loop has acted, and the
// next request is the steady loop's again).
func (c *conn) serveSteady() (ended, general bool) {
	st := c.st
	// A read made before this wait began tells nothing about what arrived since.
	st.ended, st.src.drained, st.served, st.src.misses, st.chosen = false, false, 0, 0, false
	err := st.rc.Read(st.fn) // an error (a deadline, a close) is met again by the general loop
	if err == nil && st.ringErr != nil {
		err = st.ringErr
	}
	st.src.inWait = false
	if err != nil && st.chosen {
		c.chosen = true // the wait that ended was chosen for: the general loop does not choose again
	}
	c.srv.stats.steadyServed.Add(st.served)
	c.srv.stats.steadyMisses.Add(st.src.misses)
	if st.closePending {
		st.closePending = false
		c.nc.Close() // c.nc is the socket itself here (rawReads)
	}
	switch {
	case st.pendReq != nil:
		f := st.pendReq
		st.pendReq = nil
		return !f.request(c), false
	case st.pendResp != nil:
		rf := st.pendResp
		st.pendResp = nil
		if r, ok := rf.(relayResponder); ok && c.relaying() {
			return !r.relay(c, &c.req), false
		}
		return !c.responseFault(rf, &c.req), false
	case st.pendTunnel:
		st.pendTunnel = false
		c.tunnel(&c.up.head)
		return true, false
	}
	return err == nil && st.ended, true
}

// steadyLoop is serveSteady's body, inside the poller's wait: it returns false to wait for
// the socket to become readable, true to leave. It makes the general loop's choices, with the
// same draws in the same order: before each wait the idle fault (one that fires leaves the
// loop: it acts in the general loop) and the request faults that can be chosen before a
// request comes (one that may act leaves the loop for the wait that reads exact byte counts);
// when the request is read, the rest, in serveRequest, whose faults act when the loop has
// left.
func (c *conn) steadyLoop(fd uintptr) bool {
	st := c.st
	st.src.fd, st.src.inWait = fd, true
	for {
		c.life.CompareAndSwap(connBusy, connIdle)
		if c.ctx.Err() != nil {
			return true
		}
		if !st.chosen {
			c.plan = c.srv.plan.Load()
			c.early = earlyPick{}
			if f := c.pickIdle(); f != nil {
				c.nextIdle = f
				return true
			}
			st.chosen = true
			if c.br.Buffered() == 0 && len(c.plan.preHead) > 0 && peekSupported && c.pickBeforeArrival() {
				c.chosen = true
				return true
			}
		}
		if c.br.Buffered() == 0 {
			err := errWouldBlock
			if !st.src.drained {
				_, err = c.br.Peek(1)
			}
			switch {
			case err == errWouldBlock:
				// Nothing here: wait. (After a short read there is nothing to try: what
				// arrives since wakes the wait.)
				st.src.drained = false // the read after the wake-up is made
				var deadline time.Time // the server's keep-alive timeout, as the general loop's
				if t := c.plan.cfg.Limits.IdleTimeout.D(); t > 0 {
					deadline = c.idleSince().Add(t)
				}
				if up := c.up; up != nil && !up.ended {
					// Relay mode: the app connection is handed to the watcher once the
					// downstream one has sat idle for watchAfter (awaitRequest); the
					// general loop takes the wait from then on — and at once when the
					// watcher holds it already (a request answered without the app after
					// such a wait): it tells the watcher that the downstream connection
					// waits, so that the app's close of its side is passed on when it
					// comes.
					grace := c.lastDone.Add(watchAfter)
					if up.watching || !time.Now().Before(grace) {
						c.chosen = true
						return true
					}
					if deadline.IsZero() || grace.Before(deadline) {
						deadline = grace
					}
				}
				c.setReadDeadline(deadline)
				return false
			case err != nil:
				c.peerGone(err)
				st.ended = true
				return true
			}
		}
		c.plan = c.srv.plan.Load()
		if !steadyHead(c.br) {
			c.chosen = true // the general loop takes the request with these choices
			return true
		}
		if !c.life.CompareAndSwap(connIdle, connBusy) {
			st.ended = true // shutdown closed the connection as the request came
			return true
		}
		c.idleFor = time.Since(c.lastDone)
		st.served++
		st.chosen = false
		ok := c.serveRequest()
		if st.pendReq != nil || st.pendResp != nil || st.pendTunnel {
			return true
		}
		if !ok {
			st.ended = true
			return true
		}
	}
}

// inSteadyWait reports whether the connection's goroutine is inside the steady loop's wait.
func (c *conn) inSteadyWait() bool { return c.st != nil && c.st.src.inWait }

// closeSocket closes nc (the connection, or the TCP one under its TLS), or inside the steady
// loop — where both are the socket itself — has it closed when the loop's wait has ended.
func (c *conn) closeSocket(nc net.Conn) {
	if c.inSteadyWait() {
		c.st.closePending = true
		return
	}
	nc.Close()
}

// steadyHead reports whether br holds the whole head of a request the steady loop can serve:
// one with no body (no Content-Length or Transfer-Encoding), no Expect and no fault header.
// A header line is matched by its start, whatever its case or what follows the name.
func steadyHead(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		return false
	}
	b = b[:end+2]
	i := bytes.IndexByte(b, '\n') // past the request line
	for i >= 0 && i+1 < len(b) {
		line := b[i+1:]
		for _, name := range steadyRefused {
			if len(line) >= len(name) && asciiFoldEqual(line[:len(name)], name) {
				return false
			}
		}
		n := bytes.IndexByte(line, '\n')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	return true
}

// steadyRefused are the header names (lower case) that take a request off the steady path.
var steadyRefused = [][]byte{[]byte("content-length"), []byte("transfer-encoding"), []byte("expect"), []byte("x-gatecrash-fault")}

// asciiFoldEqual reports whether b equals lower (lower case) but for ASCII case.
func asciiFoldEqual(b, lower []byte) bool {
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != lower[i] {
			return false
		}
	}
	return true
}
