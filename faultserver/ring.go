package faultserver

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/gatecrash/gatecrash/internal/uring"
)

// The ring: with WithIOUring, the steady path's reads and writes go through one io_uring
// shared by every connection, so that one system call carries many connections' requests
// and answers where the poller path makes two or three per request. Each connection keeps
// its goroutine and its code: inside the steady loop's wait, a read takes what the ring
// received, a write is copied and queued, and the wait parks the goroutine until the ring
// has received something (or the deadline passed, or shutdown cancelled the read). One
// goroutine (ringEngine.loop) submits what the connections queued, waits for completions
// through Go's poller and wakes the connections they are for; it yields after waking them,
// so that their next operations go out together.
//
// A connection is in the ring only inside the steady loop's wait, whose RawConn.Read holds
// its socket open: its sends are all complete before the wait ends (nothing a later write
// outside the loop makes can overtake them), and shutdown, whose Close would wait for that
// wait to end, first cancels the connection's read (ringCloser).

// ringEngine is the io_uring and the goroutine that carries it for one Server.
type ringEngine struct {
	stats  *stats     // nil: none kept
	mu     sync.Mutex // the ring's queue and every ringSock's fields below it
	r      *uring.Ring
	parked bool // loop waits in the poller: who queues submits
	socks  []*ringSock
	free   []uint32
	done   []uring.Completion
	stop   bool
	closed chan struct{}
}

// The user data of a ring operation: the socket's slot and what the operation is.
const (
	ringRecv uint64 = iota + 1
	ringSend
	ringTimeout
	ringCancel
	ringKindBits = 3
)

func newRingEngine(st *stats) (*ringEngine, error) {
	r, err := uring.New(uring.Options{Entries: 1024})
	if err != nil {
		return nil, err
	}
	e := &ringEngine{stats: st, r: r, done: make([]uring.Completion, 512), closed: make(chan struct{})}
	go e.loop()
	return e, nil
}

// close ends the engine once no socket is in it.
func (e *ringEngine) close() {
	e.mu.Lock()
	e.stop = true
	e.r.Nop(0)
	e.r.Submit()
	e.mu.Unlock()
	<-e.closed
	e.r.Close()
}

func (e *ringEngine) loop() {
	defer close(e.closed)
	for {
		e.mu.Lock()
		if e.stop && len(e.free) == len(e.socks) {
			e.mu.Unlock()
			return
		}
		e.r.Submit()
		if !e.r.Ready() {
			e.parked = true
			e.mu.Unlock()
			err := e.r.Park()
			e.mu.Lock()
			e.parked = false
			if err != nil {
				e.mu.Unlock()
				return
			}
		}
		n := e.r.Reap(e.done)
		woke := 0
		for _, c := range e.done[:n] {
			if e.complete(c) {
				woke++
			}
		}
		e.mu.Unlock()
		if woke > 0 {
			runtime.Gosched() // the connections woken queue their next operations first
		}
	}
}

// complete records a completion on its socket; it reports whether a goroutine was woken.
func (e *ringEngine) complete(c uring.Completion) bool {
	kind, slot := c.UserData&(1<<ringKindBits-1), c.UserData>>ringKindBits
	if kind == 0 || kind == ringTimeout || kind == ringCancel || int(slot) >= len(e.socks) {
		return false
	}
	s := e.socks[slot]
	if s == nil {
		return false
	}
	switch kind {
	case ringRecv:
		if e.stats != nil {
			e.stats.ringRecvs.Add(1)
		}
		s.received(c.Res)
		return s.wakeUp()
	case ringSend:
		s.sendsOut--
		switch {
		case c.Res < 0:
			if s.sendErr == nil {
				s.sendErr = os.NewSyscallError("write", syscall.Errno(-c.Res))
			}
		case int(c.Res) < len(s.sending)-s.sentOff:
			s.sentOff += int(c.Res) // a short send: the rest goes next
			if s.queueSend(); s.sendsOut > 0 || !s.flushing {
				return false
			}
			return s.wakeUp() // it could not be queued: sendErr says why
		}
		s.sending, s.sentOff = s.sending[:0], 0
		if len(s.next) > 0 && s.sendErr == nil {
			s.sending, s.next = s.next, s.sending
			s.queueSend()
			if s.flushing && (!s.flushAll || s.sendsOut == 0) {
				return s.wakeUp() // a writer waiting for room has it (or sendErr says why not)
			}
			return false
		}
		s.next = s.next[:0]
		if s.flushing {
			return s.wakeUp()
		}
	}
	return false
}

// submitNow hands what was just queued to the kernel when the loop is not there to.
func (e *ringEngine) submitNow() {
	if e.parked {
		e.r.Submit()
	}
}

// ringSock is one connection's socket in the ring.
type ringSock struct {
	e    *ringEngine
	slot uint32
	fd   int
	wake chan struct{}

	// under e.mu
	in        []byte
	lo, hi    int   // in[lo:hi]: received, not yet read
	short     bool  // the last recv took less than it could: the socket's queue was empty
	eof       bool  // the peer's FIN came
	readErr   error // the socket's error a recv met (a reset): what a read returns from then on
	rerr      error // how the wait ended: a deadline, shutdown
	recvOut   bool  // a recv is under way
	cancelled bool  // shutdown cancelled the read
	waiting   bool  // the goroutine waits on wake for its recv
	flushing  bool  // the goroutine waits on wake for its sends (all of them: flushAll; else room to write)
	flushAll  bool
	sending   []byte
	sentOff   int
	next      []byte // written while a send was under way
	sendsOut  int
	sendErr   error
}

// add puts socket fd in the ring.
func (e *ringEngine) add(fd int) *ringSock {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &ringSock{e: e, fd: fd, wake: make(chan struct{}, 1), in: make([]byte, readBufSize)}
	if n := len(e.free); n > 0 {
		s.slot = e.free[n-1]
		e.free = e.free[:n-1]
		e.socks[s.slot] = s
	} else {
		s.slot = uint32(len(e.socks))
		e.socks = append(e.socks, s)
	}
	return s
}

// release takes the socket out of the ring once nothing of it is under way.
func (s *ringSock) release() {
	s.flush()
	s.e.mu.Lock()
	s.e.socks[s.slot] = nil
	s.e.free = append(s.e.free, s.slot)
	s.e.mu.Unlock()
}

func (s *ringSock) ud(kind uint64) uint64 { return uint64(s.slot)<<ringKindBits | kind }

func (s *ringSock) wakeUp() bool {
	if !s.waiting && !s.flushing {
		return false
	}
	s.waiting, s.flushing = false, false
	s.wake <- struct{}{}
	return true
}

// received records a recv's result (under e.mu).
func (s *ringSock) received(res int32) {
	s.recvOut = false
	switch {
	case res > 0:
		s.lo, s.hi, s.short = 0, int(res), int(res) < len(s.in)
	case res == 0:
		s.eof = true
	case res == -int32(syscall.ECANCELED) && s.cancelled:
		s.rerr = net.ErrClosed
	case res == -int32(syscall.ECANCELED):
		s.rerr = os.ErrDeadlineExceeded
	default:
		s.readErr = os.NewSyscallError("read", syscall.Errno(-res))
	}
}

// queueSend queues the send of what is left of s.sending (under e.mu).
func (s *ringSock) queueSend() {
	if err := s.e.r.Send(s.fd, s.sending[s.sentOff:], s.ud(ringSend)); err != nil {
		s.sendErr = err
		return
	}
	s.sendsOut++
	s.e.submitNow()
}

// buffered reports how many received bytes wait to be read.
func (s *ringSock) buffered() int {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.hi - s.lo
}

// read takes what the ring received: errWouldBlock when nothing is there (the caller
// waits), io.EOF after the peer's FIN. drained: the socket's queue was empty when the ring
// last read it, and all of that has been taken.
func (s *ringSock) read(p []byte) (n int, drained bool, err error) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	switch {
	case s.hi > s.lo:
		n = copy(p, s.in[s.lo:s.hi])
		s.lo += n
		return n, s.lo == s.hi && s.short, nil
	case s.eof:
		return 0, false, io.EOF
	case s.readErr != nil:
		return 0, false, s.readErr
	}
	return 0, false, errWouldBlock
}

// ringWriteAhead bounds what a connection has written and the ring not yet sent: a large
// body to a slow reader waits for its sends, as a write to the socket would, instead of
// piling up in memory.
const ringWriteAhead = 64 << 10

// write copies b to be sent; an error of an earlier send is returned instead.
func (s *ringSock) write(b []byte) error {
	for len(b) > 0 {
		s.e.mu.Lock()
		if s.sendErr != nil {
			err := s.sendErr
			s.e.mu.Unlock()
			return err
		}
		if len(s.sending) == 0 {
			n := min(len(b), ringWriteAhead)
			s.sending = append(s.sending[:0], b[:n]...)
			b = b[n:]
			s.queueSend()
			s.e.mu.Unlock()
			continue
		}
		if room := ringWriteAhead - len(s.next); room > 0 {
			n := min(len(b), room)
			s.next = append(s.next, b[:n]...)
			b = b[n:]
			if st := s.e.stats; st != nil && uint64(len(s.next)) > st.ringAheadMax.Load() {
				st.ringAheadMax.Store(uint64(len(s.next)))
			}
			s.e.mu.Unlock()
			continue
		}
		// as much is waiting as may: wait for the send under way
		s.flushing = true
		s.e.mu.Unlock()
		<-s.wake
	}
	return nil
}

// flush waits until every send is complete and returns the first send's error.
func (s *ringSock) flush() error {
	s.e.mu.Lock()
	if s.sendsOut == 0 {
		err := s.sendErr
		s.e.mu.Unlock()
		return err
	}
	s.flushing, s.flushAll = true, true
	s.e.mu.Unlock()
	<-s.wake
	s.e.mu.Lock()
	s.flushAll = false
	err := s.sendErr
	s.e.mu.Unlock()
	return err
}

// wait waits until the ring has received something for the socket (its FIN, its error),
// until deadline (zero: none): os.ErrDeadlineExceeded after it, net.ErrClosed when shutdown
// cancelled the read. It returns nil at once when a read has something to say (a send's
// error included: the next write says it).
func (s *ringSock) wait(deadline time.Time) error {
	s.e.mu.Lock()
	switch {
	case s.cancelled:
		s.e.mu.Unlock()
		return net.ErrClosed
	case s.hi > s.lo || s.eof || s.readErr != nil:
		s.e.mu.Unlock()
		return nil
	case s.sendErr != nil:
		s.readErr = s.sendErr // the peer is gone: the loop's read says so
		s.e.mu.Unlock()
		return nil
	}
	var d time.Duration
	if !deadline.IsZero() {
		if d = time.Until(deadline); d <= 0 {
			s.e.mu.Unlock()
			return os.ErrDeadlineExceeded
		}
	}
	if err := s.e.r.RecvWithin(s.fd, s.in, d, s.ud(ringRecv), s.ud(ringTimeout)); err != nil {
		s.e.mu.Unlock()
		return err
	}
	s.recvOut, s.waiting = true, true
	s.e.submitNow()
	s.e.mu.Unlock()
	<-s.wake
	s.e.mu.Lock()
	err := s.rerr
	s.rerr = nil
	s.e.mu.Unlock()
	return err
}

// cancel ends the socket's read under way, if any (shutdown closes the connection).
func (s *ringSock) cancel() {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	s.cancelled = true
	if s.recvOut {
		s.e.r.Cancel(s.ud(ringRecv), s.ud(ringCancel))
		s.e.r.Submit()
	}
}

// ringWriter writes to a connection inside the ring's wait: queued behind what it wrote
// before (conn.write).
type ringWriter struct{ c *conn }

func (w ringWriter) Write(p []byte) (int, error) {
	if err := w.c.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// downstream is where an answer's bytes go: the connection, or inside the ring's wait the
// ring, behind what was written before.
func (c *conn) downstream() io.Writer {
	if c.inSteadyWait() && c.st.src.ring != nil {
		return ringWriter{c}
	}
	return c.nc
}
