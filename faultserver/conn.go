package faultserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/internal/h2wire"
	"github.com/gatecrash/gatecrash/internal/http1"
)

// conn is one accepted connection and the goroutine that serves it. Only that goroutine
// touches it, except Close from a shutting-down Serve.
//
// This file is the request loop: wait for a request, read it, answer it, and at each phase let
// the fault the plan picks act instead. What a fault can do to the connection is in wire.go.
type conn struct {
	ctx  context.Context
	srv  *Server
	id   uint64
	nc   net.Conn     // requests are read from and responses written to this (TLS or TCP)
	raw  *net.TCPConn // the TCP connection under nc, for SO_LINGER and queue sizes; may be nil
	br   *bufio.Reader
	rng  *rand.Rand
	plan *Plan   // the plan in force for the current phase
	req  Request // the current request; valid once headRead
	sel  selInput
	wbuf []byte      // scratch for responses rendered per request
	peek *peeker     // the non-consuming read (Linux), set up on first use
	tr   *tryReader  // relay mode: br's source, which can read without waiting
	st   *steady     // a plain TCP connection's steady path (steady.go); nil on others
	ring *ringEngine // the server's io_uring (WithIOUring; ring.go), nil without
	// rsock is the connection's socket in the ring, set before its first steady wait;
	// shutdown reads it (closeForShutdown)
	rsock atomic.Pointer[ringSock]

	served      int           // responses completed
	lastDone    time.Time     // when the last response was written (or the connection accepted)
	idleFor     time.Duration // how long the connection sat idle before the current request
	headRead    bool          // the current request's head has been consumed
	acting      Fault         // the fault acting now; counted once by injected
	remote      string        // the peer's address as events give it, written once (recordEvent)
	early       earlyPick     // the next request's request faults, as far as decided before it came
	chosen      bool          // the steady loop chose the coming wait's faults (no idle fault; early) and left
	nextIdle    IdleFault     // an idle fault chosen by a request header for the next idle period
	hasDeadline bool
	rdl         time.Time // the read deadline set inside a ring wait (setReadDeadline)
	closed      bool
	life        atomic.Int32 // connIdle, connBusy or connClosing, for a draining shutdown

	// relay mode (serve --upstream): the app connection, opened by the first request
	up           *upConn
	respStarted  bool // a byte of the app's answer to the current request went downstream
	sent100      bool // the relay answered the current request's Expect: 100-continue itself
	forwardReads bool // a request fault's reads go on to the app (fin-mid-request)
}

// bufio reader size: large enough that a typical head arrives in one read.
const readBufSize = 4096

func (s *Server) newConn(ctx context.Context, nc net.Conn) *conn {
	id := s.nextID.Add(1)
	p := s.plan.Load()
	c := &conn{ctx: ctx, srv: s, id: id, nc: nc, lastDone: time.Now(), plan: p, rng: newRand(p.cfg.Seed, id)}
	if tc, ok := nc.(*net.TCPConn); ok {
		c.raw = tc
	}
	return c
}

// serve runs the request loop until the connection ends.
func (c *conn) serve() {
	defer c.leaveRing()
	defer c.dropUpstream()
	defer c.closeAs(CloseFIN) // no-op when a fault or the peer already ended it
	if c.br == nil {
		var src io.Reader = c.nc
		if c.relaying() {
			c.tr = newTryReader(c.nc)
			src = c.tr
		}
		if c.rawReads() {
			src = c.startSteady(src)
		}
		c.br = bufio.NewReaderSize(src, readBufSize)
	}
	for {
		c.plan = c.srv.plan.Load()
		c.life.CompareAndSwap(connBusy, connIdle)
		if c.ctx.Err() != nil {
			return // shutting down: the answer in flight went out; no more requests
		}
		if c.served > 0 && c.nextIdle == nil && !c.chosen && c.st != nil && c.st.fn != nil {
			ended, general := c.serveSteady()
			if ended {
				return
			}
			if !general {
				continue // a fault chosen in the steady loop acted; the next request is its again
			}
			c.plan = c.srv.plan.Load()
		}
		if !c.nextRequest() {
			return
		}
		if c.served == 0 && c.plan.cfg.HTTP2 && !c.relaying() && (!c.overTLS() || c.alpn() == "h2") && h2wire.Prefaced(c.br) {
			c.serveH2()
			return
		}
		if !c.life.CompareAndSwap(connIdle, connBusy) {
			return // shutdown closed the connection as the request came
		}
		// The plan may have been replaced while the connection sat idle: a request uses the
		// plan in force when it arrives.
		c.plan = c.srv.plan.Load()
		if !c.serveRequest() {
			return
		}
	}
}

// nextRequest waits for the first byte of the next request, letting an idle fault own the
// wait when one is chosen. It reports whether a request has started to arrive.
func (c *conn) nextRequest() bool {
	f := c.nextIdle
	c.nextIdle = nil
	if !c.chosen { // else the steady loop chose: no idle fault; early
		c.early = earlyPick{}
		if f == nil {
			f = c.pickIdle()
		}
	}
	if f != nil {
		c.acting = f
		return f.idle(c)
	}
	var deadline time.Time
	if t := c.plan.cfg.Limits.IdleTimeout.D(); t > 0 {
		deadline = c.idleSince().Add(t)
	}
	arrived, timedOut := c.awaitRequest(deadline)
	if timedOut {
		c.closeAs(CloseFIN)
	}
	return arrived
}

// pickIdle returns the idle fault that acts on the coming idle period, if any.
func (c *conn) pickIdle() IdleFault {
	c.sel = selInput{nth: c.served, rng: c.rng}
	for _, f := range c.plan.idle {
		if f.Sel().fires(&c.sel) {
			return f
		}
	}
	return nil
}

// serveRequest reads one request and answers it, or lets a fault act. It reports whether the
// connection stays open for another request.
func (c *conn) serveRequest() bool {
	p := c.plan
	st := c.srv.stats
	st.requestsStarted.Add(1)
	c.headRead = false
	c.sel = selInput{nth: c.served + 1, reused: c.served > 0, idle: c.idleFor, rng: c.rng}
	in := &c.sel
	if len(p.preHead) > 0 { // the common case, no request faults, costs no call
		var f RequestFault
		from := 0
		if c.early.plan == p { // decided, or partly, before the request came (pickBeforeArrival)
			f, from = c.early.f, c.early.from
		}
		c.early = earlyPick{}
		if f == nil && from < len(p.preHead) {
			f = pickRequestFault(p.preHead[from:], in)
		}
		if f != nil {
			return c.requestFault(f)
		}
	}

	if !c.readHead() {
		return false
	}
	req := &c.req
	in.req = req

	var rf ResponseFault
	if v, ok := req.Header("X-Gatecrash-Fault"); ok && *p.cfg.FaultHeader {
		f, err := parseFaultHeader(string(v), p.cfg.HeaderLimits)
		if err != nil {
			c.readBody(req)
			return c.reject(http.StatusBadRequest, err.Error()+"\n")
		}
		switch f := f.(type) {
		case RequestFault:
			return c.requestFault(f)
		case ResponseFault:
			rf = f
		case IdleFault:
			c.nextIdle = f
		case H2IdleFault, H2StreamFault, H2ConnFault:
			c.readBody(req)
			return c.reject(http.StatusBadRequest, KindOf(f)+" acts on HTTP/2 connections; this request is HTTP/1.1\n")
		default:
			c.readBody(req)
			return c.reject(http.StatusBadRequest, KindOf(f)+" acts before the TLS handshake; "+
				"it cannot be chosen by a request header\n")
		}
	}
	if rf == nil {
		if len(p.postHead) > 0 {
			if f := pickRequestFault(p.postHead, in); f != nil {
				return c.requestFault(f)
			}
		}
		for _, f := range p.response {
			if f.Sel().fires(in) {
				rf = f
				break
			}
		}
	}
	if c.relaying() {
		if rf == nil {
			return c.relayNormal(req)
		}
		if r, ok := rf.(relayResponder); ok {
			c.acting = rf
			if c.inSteadyWait() {
				c.st.pendResp = rf // it acts when the steady loop's wait has ended
				return true
			}
			return r.relay(c, req)
		}
	}
	if err := c.readBody(req); err != nil {
		c.bodyFailed(err)
		return false
	}
	if rf != nil {
		return c.responseFault(rf, req)
	}
	keep := !req.Close
	if err := c.write(p.resp.bytesFor(req, keep)); err != nil {
		c.peerGone(err)
		return false
	}
	c.finishResponse()
	return keep
}

// requestFault lets f act on the current request. Inside the steady loop, where a fault must
// not act (it may read or wait), the loop leaves and f acts when its wait has ended.
func (c *conn) requestFault(f RequestFault) bool {
	c.acting = f
	if c.inSteadyWait() {
		c.st.pendReq = f
		return true
	}
	return f.request(c)
}

// responseFault lets rf answer req (whose body has been read), as requestFault does.
func (c *conn) responseFault(rf ResponseFault, req *Request) bool {
	c.acting = rf
	if c.inSteadyWait() {
		c.st.pendResp = rf
		return true
	}
	c.injected()
	keep, err := rf.respond(c, req)
	if err != nil {
		c.peerGone(err)
		return false
	}
	if c.closed {
		return false
	}
	c.finishResponse()
	return keep
}

// pickRequestFault returns the first request fault whose precondition and selector hold.
func pickRequestFault(fs []RequestFault, in *selInput) RequestFault {
	for _, f := range fs {
		if cf, ok := f.(conditional); ok && !cf.applies(in) {
			continue
		}
		if f.Sel().fires(in) {
			return f
		}
	}
	return nil
}

// earlyPick is what pickBeforeArrival decided of a request's request faults (those chosen
// before its head is read) under plan: the fault that fires (nil: none yet), and from which
// candidate on the choice waits for the request (len: none left).
type earlyPick struct {
	plan *Plan
	f    RequestFault
	from int
}

// pickBeforeArrival chooses the next request's request faults as far as can be done before its
// first byte comes: nth and probability need only the request's number and the connection's
// random stream, and a conditional kind may tell it applies or not from whether the connection
// is reused (earlyConditional). A candidate with "every", or one that needs the idle time,
// stops the choice there, to go on when the request has come. In candidate order, each
// selector asked once per request, as serveRequest would (a wait that ends without a request
// has used a draw of the connection's random stream: the choices stay independent). It reports
// whether a request fault may act on the request: then its bytes are waited for without being
// read (a fault reads an exact count); otherwise the request is read as any other, and a rare
// request fault costs the requests it does not act on nothing (before: about a fifth of the
// server's CPU, with every request read through a peek and a header deadline).
func (c *conn) pickBeforeArrival() bool {
	p := c.plan
	c.early = earlyPick{plan: p, from: len(p.preHead)}
	c.sel = selInput{nth: c.served + 1, reused: c.served > 0, rng: c.rng}
	for i, f := range p.preHead {
		if _, ok := f.(conditional); ok {
			ec, ok := f.(earlyConditional)
			if !ok {
				c.early.from = i
				return true
			}
			applies, known := ec.appliesEarly(&c.sel)
			if !known {
				c.early.from = i
				return true
			}
			if !applies {
				continue
			}
		}
		if f.Sel().Every > 1 {
			// "every" counts the requests that come, across connections: asked now, a wait
			// that ends without one would count too
			c.early.from = i
			return true
		}
		if f.Sel().fires(&c.sel) {
			c.early.f = f
			return true
		}
	}
	return false
}

// mayAct reports what pickBeforeArrival reported when it made e under p: whether a request
// fault may act on the request.
func (e earlyPick) mayAct(p *Plan) bool {
	return e.plan == p && (e.f != nil || e.from < len(p.preHead))
}

// readHead reads the current request's head, answering and closing when it cannot be read.
func (c *conn) readHead() bool {
	if err := c.consumeHead(); err != nil {
		c.headFailed(err)
		return false
	}
	return true
}

// consumeHead reads and parses the current request's head under the header timeout, and
// counts it as read.
func (c *conn) consumeHead() error {
	if !headBuffered(c.br) { // a head that is all here needs no deadline to be read
		c.setReadDeadline(time.Now().Add(c.plan.cfg.Limits.HeaderTimeout.D()))
	}
	if err := readHead(c.br, &c.req, c.plan.cfg.Limits.MaxHeaderBytes); err != nil {
		return err
	}
	c.headRead = true
	c.srv.stats.requestsRead.Add(1)
	return nil
}

// finishResponse records a completed response and starts the idle clock.
func (c *conn) finishResponse() {
	c.srv.stats.responses.Add(1)
	c.served++
	c.lastDone = time.Now()
}

// readBody consumes the request body, answering Expect: 100-continue first.
func (c *conn) readBody(r *Request) error {
	if !r.hasBody() {
		return nil
	}
	c.setReadDeadline(time.Now().Add(c.plan.cfg.Limits.BodyTimeout.D()))
	if r.Expect100 && r.Minor == 1 && c.br.Buffered() == 0 {
		if err := c.write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			return err
		}
	}
	var err error
	if r.Chunked {
		err = http1.DiscardChunked(c.br, c.plan.cfg.Limits.MaxHeaderBytes)
	} else {
		err = http1.Discard(c.br, r.ContentLength)
	}
	if err == nil {
		return nil
	}
	if se, ok := errors.AsType[*http1.SyntaxError](err); ok {
		return badRequest("%s", se.Msg)
	}
	if errors.Is(err, http1.ErrTrailerTooLarge) {
		return &ParseError{Status: http.StatusRequestHeaderFieldsTooLarge, Msg: err.Error()}
	}
	return err
}

// headFailed handles a request head that could not be read.
func (c *conn) headFailed(err error) {
	c.readFailed(err, "request head not received within the header timeout\n")
}

// bodyFailed handles a request body that could not be read.
func (c *conn) bodyFailed(err error) {
	c.readFailed(err, "request body not received within the body timeout\n")
}

func (c *conn) readFailed(err error, timeoutMsg string) {
	var pe *ParseError
	switch {
	case errors.As(err, &pe):
		c.reject(pe.Status, pe.Msg+"\n")
	case isTimeout(err):
		c.reject(http.StatusRequestTimeout, timeoutMsg)
	case errors.Is(err, errIncomplete):
		c.srv.stats.peerFIN.Add(1)
		c.closeQuietly()
	default:
		c.peerGone(err)
	}
}

// reject answers a request the server cannot take with status and msg, then closes.
func (c *conn) reject(status int, msg string) bool {
	c.srv.stats.badRequests.Add(1)
	b := renderHead(c.wbuf[:0], status, len(msg), false, modeClose11)
	b = append(b, msg...)
	c.wbuf = b
	if err := c.write(b); err != nil {
		c.peerGone(err)
		return false
	}
	c.closeAs(CloseFIN)
	return false
}

// headBuffered reports whether br holds a whole request head (its empty line).
func headBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.Contains(b, crlfcrlf)
}

var crlfcrlf = []byte("\r\n\r\n")
