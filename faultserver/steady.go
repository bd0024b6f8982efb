package faultserver

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"syscall"
	"time"
)

// The steady path: a plain TCP connection under a plan without faults, serving simple
// requests, the way nginx does it. Go's net.Conn.Read tries read(2) before it waits in the
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
// all here and that has no body, needs no answer to Expect and names no fault (steadyHead),
// with no fault in the plan, and a close the request's handling asks for is made when the
// wait has ended (closeSocket). Anything else leaves the loop with the connection as it is,
// and the general request loop goes on from there.

// sockSource is br's source on a plain TCP connection: the connection itself, except inside
// the steady loop, where it reads the socket without waiting (readNow: errWouldBlock when
// nothing is there).
type sockSource struct {
	nc     net.Conn
	fd     uintptr
	inWait bool
	// drained: in the steady loop, the last read returned less than it asked for, which
	// on Linux means the socket's queue was empty (tcp_recvmsg stops short only then)
	drained bool
	misses  uint64 // reads in the steady loop that found nothing
}

func (s *sockSource) Read(p []byte) (int, error) {
	if !s.inWait {
		return s.nc.Read(p)
	}
	n, err := readNow(s.fd, p)
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
	ended        bool                  // the loop ended the connection
	served       uint64                // requests the current loop answered
	closePending bool                  // a close asked for inside the loop, made after it
}

// steadyOK says whether the plan lets connections take the steady path: no fault of any kind
// could act on an HTTP/1.1 request.
func (p *Plan) steadyOK() bool {
	return len(p.idle) == 0 && len(p.preHead) == 0 && len(p.postHead) == 0 && len(p.response) == 0
}

// startSteady sets up the steady path on a plain TCP connection and returns br's source.
func (c *conn) startSteady() io.Reader {
	c.st = &steady{src: sockSource{nc: c.nc}}
	if !steadySupported || c.relaying() {
		return &c.st.src
	}
	rc, err := c.raw.SyscallConn()
	if err != nil {
		return &c.st.src
	}
	c.st.rc = rc
	c.st.fn = c.steadyLoop
	return &c.st.src
}

// serveSteady serves requests on the steady path while it can. It reports whether the
// connection ended; when not, the general request loop goes on with whatever is buffered.
func (c *conn) serveSteady() (ended bool) {
	st := c.st
	// A read made before this wait began tells nothing about what arrived since.
	st.ended, st.src.drained, st.served, st.src.misses = false, false, 0, 0
	err := st.rc.Read(st.fn) // an error (a deadline, a close) is met again by the general loop
	st.src.inWait = false
	c.srv.stats.steadyServed.Add(st.served)
	c.srv.stats.steadyMisses.Add(st.src.misses)
	if st.closePending {
		st.closePending = false
		c.nc.Close()
	}
	return err == nil && st.ended
}

// steadyLoop is serveSteady's body, inside the poller's wait: it returns false to wait for
// the socket to become readable, true to leave.
func (c *conn) steadyLoop(fd uintptr) bool {
	st := c.st
	st.src.fd, st.src.inWait = fd, true
	for {
		c.life.CompareAndSwap(connBusy, connIdle)
		if c.ctx.Err() != nil {
			return true
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
				if t := c.plan.cfg.Limits.IdleTimeout.D(); t > 0 {
					c.setReadDeadline(c.idleSince().Add(t))
				}
				return false
			case err != nil:
				c.peerGone(err)
				st.ended = true
				return true
			}
		}
		c.plan = c.srv.plan.Load()
		if !c.plan.steadyOK() || !steadyHead(c.br) {
			return true
		}
		if !c.life.CompareAndSwap(connIdle, connBusy) {
			st.ended = true // shutdown closed the connection as the request came
			return true
		}
		c.idleFor = time.Since(c.lastDone)
		c.early = earlyPick{}
		st.served++
		if !c.serveRequest() {
			st.ended = true
			return true
		}
	}
}

// closeSocket closes the connection, or inside the steady loop has it closed when the loop's
// wait has ended.
func (c *conn) closeSocket() {
	if c.st != nil && c.st.src.inWait {
		c.st.closePending = true
		return
	}
	c.nc.Close()
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
