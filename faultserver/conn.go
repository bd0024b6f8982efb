package faultserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// conn is one accepted connection and the goroutine that serves it. Only that goroutine
// touches it, except Close from a shutting-down Serve.
type conn struct {
	ctx  context.Context
	srv  *Server
	id   uint64
	nc   net.Conn     // requests are read from and responses written to this (TLS or TCP)
	raw  *net.TCPConn // the TCP connection under nc, for SO_LINGER and queue sizes; may be nil
	br   *bufio.Reader
	rng  *rand.Rand
	req  Request
	sel  selInput // reused per request: passed through interfaces, it would escape
	wbuf []byte   // scratch for responses rendered per request

	served      int       // responses completed
	lastDone    time.Time // when the last response was written (or the connection accepted)
	nextIdle    IdleFault // an idle fault chosen by a request header for the next idle period
	hasDeadline bool
	closed      bool
}

// bufio reader size: large enough that a typical head arrives in one read.
const readBufSize = 4096

func (s *Server) newConn(ctx context.Context, nc net.Conn) *conn {
	id := s.nextID.Add(1)
	c := &conn{ctx: ctx, srv: s, id: id, nc: nc, lastDone: time.Now(),
		rng: newRand(s.plan.Load().cfg.Seed, id)}
	if tc, ok := nc.(*net.TCPConn); ok {
		c.raw = tc
	}
	return c
}

// serve runs the request loop until the connection ends.
func (c *conn) serve() {
	defer c.closeAs(CloseFIN) // no-op when a fault or the peer already ended it
	if c.br == nil {
		c.br = bufio.NewReaderSize(c.nc, readBufSize)
	}
	for {
		plan := c.srv.plan.Load()
		idle, ok := c.awaitRequest(plan)
		if !ok {
			return
		}
		// The plan may have been replaced while the connection sat idle: a request uses the
		// plan in force when it arrives.
		if !c.serveRequest(c.srv.plan.Load(), idle) {
			return
		}
	}
}

// awaitRequest waits for the first byte of the next request, enforcing the server's idle
// timeout or an idle fault. It returns how long the connection sat idle.
func (c *conn) awaitRequest(p *Plan) (time.Duration, bool) {
	timeout := p.cfg.Limits.IdleTimeout.D()
	fault := c.nextIdle
	c.nextIdle = nil
	if fault == nil {
		c.sel = selInput{nth: c.served, rng: c.rng}
		for _, f := range p.idle {
			if f.Sel().fires(&c.sel) {
				fault = f
				break
			}
		}
	}
	if fault != nil {
		timeout = fault.idleTimeout(c.rng)
	}
	if c.br.Buffered() == 0 {
		// The deadline counts from the end of the last response, as a real server's
		// keep-alive timer does.
		if timeout > 0 {
			c.setReadDeadline(c.lastDone.Add(timeout))
		} else {
			c.setReadDeadline(time.Time{})
		}
	}
	var err error
	if len(p.preHead) > 0 && c.br.Buffered() == 0 && !c.isTLS() {
		// A request fault may read an exact number of bytes: learn that a request has
		// started without taking any of it from the kernel.
		err = c.waitReadable()
	} else {
		_, err = c.br.Peek(1)
	}
	if err != nil {
		switch {
		case isTimeout(err) && fault != nil:
			c.srv.stats.fault(fault.Kind())
			c.closeAs(fault.closeMode())
		case isTimeout(err):
			c.closeAs(CloseFIN)
		default:
			c.peerGone(err)
		}
		return 0, false
	}
	return time.Since(c.lastDone), true
}

// serveRequest reads one request and answers it, or lets a fault act. It reports whether the
// connection stays open for another request.
func (c *conn) serveRequest(p *Plan, idle time.Duration) bool {
	st := c.srv.stats
	st.requestsStarted.Add(1)
	c.sel = selInput{nth: c.served + 1, reused: c.served > 0, idle: idle, rng: c.rng}
	in := &c.sel
	for _, f := range p.preHead {
		if f.applies(in) && f.Sel().fires(in) {
			return c.interruptRequest(p, f, false)
		}
	}

	c.setReadDeadline(time.Now().Add(p.cfg.Limits.HeaderTimeout.D()))
	if err := readHead(c.br, &c.req, p.cfg.Limits.MaxHeaderBytes); err != nil {
		c.headFailed(err)
		return false
	}
	st.requestsRead.Add(1)
	req := &c.req
	in.req = req

	var rf ResponseFault
	if p.cfg.FaultHeader != nil && *p.cfg.FaultHeader {
		if v, ok := req.Header("X-Gatecrash-Fault"); ok {
			f, err := parseFaultHeader(string(v))
			if err != nil {
				c.readBody(p, req)
				return c.reject(http.StatusBadRequest, err.Error()+"\n")
			}
			switch f := f.(type) {
			case RequestFault:
				return c.interruptRequest(p, f, true)
			case ResponseFault:
				rf = f
			case IdleFault:
				c.nextIdle = f
			default:
				c.readBody(p, req)
				return c.reject(http.StatusBadRequest, f.Kind()+" acts before the TLS handshake; "+
					"it cannot be chosen by a request header\n")
			}
		}
	}
	if rf == nil {
		for _, f := range p.postHead {
			if f.applies(in) && f.Sel().fires(in) {
				return c.interruptRequest(p, f, true)
			}
		}
		for _, f := range p.response {
			if f.Sel().fires(in) {
				rf = f
				break
			}
		}
	}
	if err := c.readBody(p, req); err != nil {
		c.bodyFailed(err)
		return false
	}
	keep := !req.Close
	if rf != nil {
		st.fault(rf.Kind())
		var err error
		keep, err = rf.respond(c, p, req)
		if err != nil {
			c.peerGone(err)
			return false
		}
		if c.closed {
			return false
		}
	} else if _, err := c.nc.Write(p.resp.bytesFor(req, keep)); err != nil {
		c.peerGone(err)
		return false
	}
	c.finishResponse()
	return keep
}

// finishResponse records a completed response and starts the idle clock.
func (c *conn) finishResponse() {
	c.srv.stats.responses.Add(1)
	c.served++
	c.lastDone = time.Now()
}

// interruptRequest lets a request fault act: read AfterBytes of the request (or all of it)
// and close with no response. headRead says the head has already been consumed.
func (c *conn) interruptRequest(p *Plan, f RequestFault, headRead bool) bool {
	n := f.afterBytes()
	var err error
	switch {
	case n < 0 && !headRead:
		c.setReadDeadline(time.Now().Add(p.cfg.Limits.HeaderTimeout.D()))
		if err = readHead(c.br, &c.req, p.cfg.Limits.MaxHeaderBytes); err == nil {
			c.srv.stats.requestsRead.Add(1)
			err = c.readBody(p, &c.req)
		}
	case n < 0:
		err = c.readBody(p, &c.req)
	case headRead:
		if extra := n - int64(c.req.HeadBytes); extra > 0 {
			err = c.readExact(p, extra)
		}
	default:
		err = c.readExact(p, n)
	}
	if err != nil && !errors.Is(err, errIncomplete) && !isTimeout(err) {
		// The peer gave up before the fault could act: nothing was injected.
		c.peerGone(err)
		return false
	}
	c.srv.stats.fault(f.Kind())
	if f.halfClose() {
		c.halfClose(p)
		return false
	}
	c.closeAs(f.closeMode())
	return false
}

// readExact consumes exactly n more request bytes: first what is buffered, then straight from
// the socket, so that the kernel still holds everything after byte n.
func (c *conn) readExact(p *Plan, n int64) error {
	c.setReadDeadline(time.Now().Add(p.cfg.Limits.BodyTimeout.D()))
	if b := int64(c.br.Buffered()); b > 0 {
		d, _ := c.br.Discard(int(min(b, n)))
		n -= int64(d)
	}
	if n <= 0 {
		return nil
	}
	_, err := io.CopyN(io.Discard, c.nc, n)
	return err
}

// readBody consumes the request body, answering Expect: 100-continue first.
func (c *conn) readBody(p *Plan, r *Request) error {
	if !r.hasBody() {
		return nil
	}
	c.setReadDeadline(time.Now().Add(p.cfg.Limits.BodyTimeout.D()))
	if r.Expect100 && r.Minor == 1 && c.br.Buffered() == 0 {
		if _, err := c.nc.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			return err
		}
	}
	if !r.Chunked {
		return c.discard(r.ContentLength)
	}
	for {
		n, err := readChunkSize(c.br)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if err := c.discard(n); err != nil {
			return err
		}
		if err := c.expectCRLF(); err != nil {
			return err
		}
	}
	// trailer section: header lines up to an empty line, bounded like a head
	total := 0
	for {
		line, err := c.br.ReadSlice('\n')
		total += len(line)
		if err != nil || total > p.cfg.Limits.MaxHeaderBytes {
			if errors.Is(err, io.EOF) {
				return errIncomplete
			}
			if err == nil || errors.Is(err, bufio.ErrBufferFull) {
				return &ParseError{Status: 431, Msg: "chunked trailer section too large"}
			}
			return err
		}
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			return nil
		}
	}
}

func (c *conn) discard(n int64) error {
	for n > 0 {
		step := int(min(n, 1<<30))
		d, err := c.br.Discard(step)
		n -= int64(d)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errIncomplete
			}
			return err
		}
	}
	return nil
}

func (c *conn) expectCRLF() error {
	b, err := c.br.ReadByte()
	if err == nil && b == '\r' {
		b, err = c.br.ReadByte()
	}
	switch {
	case errors.Is(err, io.EOF):
		return errIncomplete
	case err != nil:
		return err
	case b != '\n':
		return badRequest("chunk data not followed by CRLF")
	}
	return nil
}

// headFailed handles a request head that could not be read.
func (c *conn) headFailed(err error) {
	var pe *ParseError
	switch {
	case errors.As(err, &pe):
		c.reject(pe.Status, pe.Msg+"\n")
	case isTimeout(err):
		c.reject(http.StatusRequestTimeout, "request head not received within the header timeout\n")
	case errors.Is(err, errIncomplete):
		c.srv.stats.peerFIN.Add(1)
		c.closeQuietly()
	default:
		c.peerGone(err)
	}
}

// bodyFailed handles a request body that could not be read.
func (c *conn) bodyFailed(err error) {
	var pe *ParseError
	switch {
	case errors.As(err, &pe):
		c.reject(pe.Status, pe.Msg+"\n")
	case isTimeout(err):
		c.reject(http.StatusRequestTimeout, "request body not received within the body timeout\n")
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
	if _, err := c.nc.Write(b); err != nil {
		c.peerGone(err)
		return false
	}
	c.closeAs(CloseFIN)
	return false
}

// peerGone records that the peer ended the connection (or it failed) and closes our side.
func (c *conn) peerGone(err error) {
	if c.closed {
		return
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, errIncomplete):
		c.srv.stats.peerFIN.Add(1)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		c.srv.stats.peerRST.Add(1)
	case errors.Is(err, net.ErrClosed), c.ctx.Err() != nil:
		// shut down by Serve, which closed the socket: a server-side FIN
		c.closed = true
		c.srv.stats.serverFIN.Add(1)
		return
	default:
		c.closeAs(CloseFIN) // a failure on our side (write timeout, protocol error)
		return
	}
	c.closeQuietly()
}

// closeQuietly closes without counting (the end was already counted).
func (c *conn) closeQuietly() {
	if !c.closed {
		c.closed = true
		c.nc.Close()
	}
}

// closeAs ends the connection the way mode says and counts what the kernel sent.
func (c *conn) closeAs(mode CloseMode) {
	if c.closed {
		return
	}
	c.closed = true
	// Counted before the syscall, so a peer never sees a close the counters do not show yet.
	if mode == CloseRST && c.raw != nil {
		c.waitSent()
		c.srv.stats.serverRST.Add(1)
		c.raw.SetLinger(0)
		c.raw.Close()
		return
	}
	if c.unreadInKernel() > 0 {
		c.srv.stats.serverRST.Add(1) // Linux answers close(2) with RST when input is unread
	} else {
		c.srv.stats.serverFIN.Add(1)
	}
	c.nc.Close()
}

// halfClose sends FIN but keeps reading (and discarding) until the peer closes, so the peer
// sees a clean end of the response stream while its own writes still succeed.
func (c *conn) halfClose(p *Plan) {
	c.closed = true
	c.srv.stats.serverFIN.Add(1)
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.setReadDeadline(time.Now().Add(p.cfg.Limits.BodyTimeout.D()))
	io.Copy(io.Discard, c.br)
	c.nc.Close()
}

// waitSent waits (briefly) until everything written has been acknowledged by the peer, so an
// RST that follows does not discard bytes the fault meant to deliver.
func (c *conn) waitSent() {
	deadline := time.Now().Add(500 * time.Millisecond)
	t := time.NewTicker(100 * time.Microsecond)
	defer t.Stop()
	for c.sockIoctl(unix.SIOCOUTQ) > 0 && time.Now().Before(deadline) {
		select {
		case <-t.C:
		case <-c.ctx.Done():
			return
		}
	}
}

// unreadInKernel returns how many received bytes the server has not read from the socket.
func (c *conn) unreadInKernel() int { return c.sockIoctl(unix.SIOCINQ) }

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

func (c *conn) isTLS() bool { return c.raw == nil || net.Conn(c.raw) != c.nc }

func (c *conn) setReadDeadline(t time.Time) {
	if t.IsZero() && !c.hasDeadline {
		return
	}
	c.hasDeadline = !t.IsZero()
	c.nc.SetReadDeadline(t)
}

// wait blocks for d or until the server shuts down; it reports whether d passed.
func (c *conn) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// writeStatus writes a plain response with the given status, for faults that answer.
func (c *conn) writeStatus(status int, body []byte, req *Request, keep bool) error {
	m := modeFor(req, keep)
	b := renderHead(c.wbuf[:0], status, len(body), false, m)
	if !isHEAD(req) {
		b = append(b, body...)
	}
	c.wbuf = b
	_, err := c.nc.Write(b)
	return err
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
