package faultserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gatecrash/gatecrash/internal/http1"
)

// Relay mode (serve --upstream): the primitives a fault uses when the answer comes from the
// user's app instead of the canned response. The request loop (conn.go) calls relayNormal
// for a request no fault takes; a response fault that works on the app's answer implements
// relayResponder and builds its behaviour from exchange, passHead, passBody and
// exchangeDone. A fault that does not (status, and every idle, request and handshake
// fault) acts on the downstream connection alone, exactly as without an app, and the app
// never sees that request.
//
// The app's own failures (it refuses, resets, closes early, stalls, speaks garbage) are
// counted as app errors and passed on as the app made them — never as injected faults.

// relayResponder is a response fault with a behaviour of its own in relay mode. relay
// answers req (or does not) using the app's answer; it calls conn.injected itself, once it
// has acted — when the app fails first, the fault did not act.
type relayResponder interface {
	ResponseFault
	relay(c *conn, req *Request) (keepAlive bool)
}

// maxAppHead bounds a response head from the app.
const maxAppHead = 64 << 10

func (c *conn) relaying() bool { return c.srv.upstream != nil }

func (c *conn) rcount(i int) { c.srv.stats.relay.n[i].Add(1) }

// appError is a failure of the app, counted under kind (an rErr* index).
type appError struct {
	kind int
	err  error
}

func (e *appError) Error() string { return "app: " + e.err.Error() }
func (e *appError) Unwrap() error { return e.err }

// appErr classifies an error on the app connection.
func appErr(err error) *appError {
	kind := rErrClosed
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		kind = rErrReset
	case isTimeout(err):
		kind = rErrTimeout
	case errors.Is(err, errUnsolicited), errors.Is(err, http1.ErrTrailerTooLarge):
		kind = rErrMalformed
	default:
		if _, ok := errors.AsType[*http1.SyntaxError](err); ok {
			kind = rErrMalformed
		}
	}
	return &appError{kind: kind, err: err}
}

// upstreamConn returns the connection's app connection, opening one if there is none (or the
// app ended the last one).
func (c *conn) upstreamConn() (*upConn, error) {
	if c.up != nil && !c.up.ended {
		return c.up, nil
	}
	c.dropUpstream()
	nc := c.nc
	up, err := c.srv.dialUpstream(c.ctx, func() { nc.SetReadDeadline(time.Now()) })
	if err != nil {
		return nil, &appError{kind: rErrConnect, err: err}
	}
	c.up = up
	if c.ring != nil && up.tr.rc != nil {
		var fd int
		up.tr.rc.Control(func(f uintptr) { fd = int(f) })
		up.ring = c.ring.add(fd)
		up.tr.ring = up.ring
	}
	c.rcount(rOpened)
	c.srv.stats.relay.open.Add(1)
	return up, nil
}

// dropUpstream closes the app connection, if any, counting it as the relay's close unless
// the app had ended it.
func (c *conn) dropUpstream() {
	if c.up == nil {
		return
	}
	if !c.up.ended {
		c.rcount(rRelayClosed)
	}
	c.up.close()
	c.srv.stats.awaited.Add(c.up.awaited)
	c.srv.stats.awaitMisses.Add(c.up.awaitMisses)
	c.srv.stats.awaitChecks.Add(c.up.checks)
	c.up = nil
	c.srv.stats.relay.open.Add(-1)
}

// appEndedIdle passes on what the app did to its idle connection: it closed it (its
// keep-alive timeout) or reset it, and the downstream connection ends the same way; or it
// sent bytes no request asked for, a protocol error.
func (c *conn) appEndedIdle(err error) {
	c.up.ended = true
	c.hasDeadline = true // the watcher woke the downstream read with a deadline
	switch {
	case errors.Is(err, errUnsolicited):
		c.rcount(rErrMalformed)
		c.closeAs(CloseFIN)
	case errors.Is(err, syscall.ECONNRESET):
		c.rcount(rAppClosedIdle)
		c.closeAs(CloseRST)
	default:
		c.rcount(rAppClosedIdle)
		c.closeAs(CloseFIN)
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// exchange sends the current request to the app and reads the head of its final answer,
// passing interim (1xx) heads on. On failure — the app's or the downstream peer's — it has
// ended the connection as the failure says and counted it, and returns nil.
func (c *conn) exchange(req *Request) *http1.ResponseHead {
	c.respStarted, c.sent100 = false, false
	if err := c.forward(req); err != nil {
		c.relayFailed(req, err)
		return nil
	}
	up := c.up
	if err := up.awaitAnswer(c.srv.upstream.timeout, up.requests); err != nil {
		c.relayFailed(req, appErr(err))
		return nil
	}
	for {
		if err := http1.ReadResponseHead(up.br, &up.head, maxAppHead); err != nil {
			c.relayFailed(req, appErr(err))
			return nil
		}
		h := &up.head
		if h.Status >= 200 || h.Status == http.StatusSwitchingProtocols {
			return h
		}
		if h.Status == http.StatusContinue && c.sent100 {
			continue // the relay answered the client's Expect itself
		}
		if err := c.write(h.Raw); err != nil {
			c.peerGone(err)
			return nil
		}
	}
}

// forward sends the request head as it arrived, then its body as it arrives. A downstream
// read failure is returned as it is; a failure of the app as *appError.
func (c *conn) forward(req *Request) error {
	up, err := c.upstreamConn()
	if err != nil {
		return err
	}
	if gone := up.claim(); gone != nil {
		// The app ended its idle connection just as this request came: the keep-alive race
		// itself, the app's doing. The request cannot go to it on this connection.
		if errors.Is(gone, errUnsolicited) {
			return &appError{kind: rErrMalformed, err: gone}
		}
		return &appError{kind: rAppClosedIdle, err: gone}
	}
	if up.requests > 0 {
		c.rcount(rOnReused)
	}
	up.requests++
	c.rcount(rForwarded)
	b := append(c.wbuf[:0], req.raw...)
	rest := int64(0)
	switch {
	case req.Chunked:
	case req.ContentLength > 0 && req.ContentLength <= int64(c.br.Buffered()):
		body, _ := c.br.Peek(int(req.ContentLength)) // all here: one write for head and body
		b = append(b, body...)
		c.br.Discard(len(body))
	case req.ContentLength > 0:
		rest = req.ContentLength
	}
	c.wbuf = b
	// A small request goes out in one write that cannot block for long (the app has read
	// every earlier request: it answered them); a large one, and a body streamed after it,
	// can: then each write has the upstream timeout to go out (an inactivity bound, so a
	// long upload is not cut), cleared when the request is through.
	up.dw.nc, up.dw.timeout = up.nc, 0
	if rest > 0 || req.Chunked || len(b) > 64<<10 {
		up.dw.timeout = c.srv.upstream.timeout
		defer up.nc.SetWriteDeadline(time.Time{})
	} else if up.deferSend(b) {
		return nil // awaitAnswer sends it, inside its wait for the answer
	}
	if _, err := up.dw.Write(b); err != nil {
		return appErr(err)
	}
	if !req.Chunked && rest == 0 {
		return nil
	}
	c.setReadDeadline(time.Now().Add(c.plan.cfg.Limits.BodyTimeout.D()))
	if req.Expect100 && req.Minor == 1 && c.br.Buffered() == 0 {
		if err := c.write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			return err
		}
		c.sent100 = true
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	if req.Chunked {
		_, err = http1.CopyChunked(&up.dw, c.br, -1, false, c.plan.cfg.Limits.MaxHeaderBytes, *bp)
	} else {
		_, err = http1.CopyN(&up.dw, c.br, rest, *bp)
	}
	if we, ok := errors.AsType[*http1.WriteError](err); ok {
		return appErr(we.Err)
	}
	if err != nil {
		if se, ok := errors.AsType[*http1.SyntaxError](err); ok {
			return badRequest("%s", se.Msg)
		}
	}
	return err
}

// relayFailed ends an exchange that failed: the app's failure passed on as the app made it
// (or, before any byte of an answer, as the 502 or 504 a proxy would give), a downstream
// failure as the request loop handles it.
func (c *conn) relayFailed(req *Request, err error) {
	ae, ok := errors.AsType[*appError](err)
	if !ok {
		c.readFailed(err, "request body not received within the body timeout\n")
		return
	}
	c.rcount(ae.kind)
	if c.up != nil && ae.kind != rErrConnect {
		c.up.ended = ae.kind != rErrTimeout && ae.kind != rErrMalformed // else the relay closes it
	}
	if !c.respStarted {
		switch ae.kind {
		case rErrConnect:
			c.readBody(req) // so that the close does not turn into an RST that eats the answer
			c.relayAnswer(http.StatusBadGateway, fmt.Sprintf("gatecrash relay: cannot reach the app at %s: %v\n", c.srv.upstream, ae.err))
			return
		case rErrTimeout:
			c.relayAnswer(http.StatusGatewayTimeout, fmt.Sprintf("gatecrash relay: the app at %s sent nothing for %s (--upstream-timeout)\n",
				c.srv.upstream, c.srv.upstream.timeout))
			return
		case rErrMalformed:
			c.relayAnswer(http.StatusBadGateway, fmt.Sprintf("gatecrash relay: the app at %s answered with bytes that are not HTTP/1.1: %v\n",
				c.srv.upstream, ae.err))
			return
		}
	}
	if ae.kind == rErrReset {
		c.closeAs(CloseRST)
	} else {
		c.closeAs(CloseFIN)
	}
}

// relayAnswer answers with the relay's own error response and closes.
func (c *conn) relayAnswer(status int, msg string) {
	b := renderHead(c.wbuf[:0], status, len(msg), false, modeClose11)
	b = append(b, msg...)
	c.wbuf = b
	if err := c.write(b); err != nil {
		c.peerGone(err)
		return
	}
	c.closeAs(CloseFIN)
}

// passHead writes the first n bytes of the app's response head (all of it when n < 0).
func (c *conn) passHead(h *http1.ResponseHead, n int) bool {
	b := h.Raw
	if n >= 0 && n < len(b) {
		b = b[:n]
	}
	c.respStarted = true
	if len(b) == 0 {
		return true
	}
	if err := c.write(b); err != nil {
		c.peerGone(err)
		return false
	}
	return true
}

// passBody streams the app's response body to w: at most limit bytes of it when limit >= 0,
// and with holdLast never the end of a chunked body. ended reports that the body was passed
// on complete. On failure the connection has been ended and ok is false.
func (c *conn) passBody(h *http1.ResponseHead, req *Request, limit int64, holdLast bool, w io.Writer) (ended, ok bool) {
	up := c.up
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var err error
	switch h.Framing(isHEAD(req)) {
	case http1.BodyNone:
		return true, true
	case http1.BodyLength:
		n := h.ContentLength
		if limit >= 0 {
			n = min(n, limit)
		}
		var k int64
		k, err = http1.CopyN(w, up.br, n, *bp)
		ended = k == h.ContentLength
	case http1.BodyChunked:
		var r http1.ChunkedCopy
		r, err = http1.CopyChunked(w, up.br, limit, holdLast, maxAppHead, *bp)
		ended = r.Ended && !holdLast
	case http1.BodyUntilClose:
		var k int64
		k, err = http1.CopyUntilEOF(w, up.br, limit, *bp)
		ended = err == nil && (limit < 0 || k < limit)
		if ended {
			up.ended = true
		}
	}
	if err == nil {
		return ended, true
	}
	if we, isWrite := errors.AsType[*http1.WriteError](err); isWrite {
		c.peerGone(we.Err)
		return false, false
	}
	c.relayFailed(req, appErr(err))
	return false, false
}

// relayNormal answers the current request with the app's answer, passed on unchanged.
func (c *conn) relayNormal(req *Request) bool {
	h := c.exchange(req)
	if h == nil {
		return false
	}
	up := c.up
	if h.Status == http.StatusSwitchingProtocols {
		if c.inSteadyWait() {
			c.st.pendTunnel = true // the tunnel reads the connection: after the steady loop's wait
			return true
		}
		return c.tunnel(h)
	}
	// A small body that has arrived with its head goes out with it, in one write.
	if h.Framing(isHEAD(req)) == http1.BodyLength && h.ContentLength <= int64(up.br.Buffered()) {
		body, _ := up.br.Peek(int(h.ContentLength))
		b := append(append(c.wbuf[:0], h.Raw...), body...)
		c.wbuf = b
		up.br.Discard(len(body))
		c.respStarted = true
		if err := c.write(b); err != nil {
			c.peerGone(err)
			return false
		}
		return c.exchangeDone(h, req)
	}
	if !c.passHead(h, -1) {
		return false
	}
	if _, ok := c.passBody(h, req, -1, false, c.downstream()); !ok {
		return false
	}
	return c.exchangeDone(h, req)
}

// exchangeDone counts a response passed on in full and says whether the downstream
// connection stays open: when the client and the app both keep it.
func (c *conn) exchangeDone(h *http1.ResponseHead, req *Request) bool {
	c.rcount(rRelayed)
	c.finishResponse()
	untilClose := h.Framing(isHEAD(req)) == http1.BodyUntilClose
	if h.Close || untilClose {
		c.rcount(rAppClosedAfter)
		c.up.ended = true
	}
	return !req.Close && !h.Close && !untilClose
}

// tunnel passes on a 101 Switching Protocols head and then bytes both ways until either
// side ends (a WebSocket, say). No fault acts inside a tunnel.
func (c *conn) tunnel(h *http1.ResponseHead) bool {
	if !c.passHead(h, -1) {
		return false
	}
	c.finishResponse()
	c.rcount(rRelayed)
	up := c.up
	c.setReadDeadline(time.Time{})
	up.tr.timeout = 0
	if up.tr.hasDeadline {
		up.nc.SetReadDeadline(time.Time{})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up.nc, c.br)
		if cw, ok := up.nc.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	io.Copy(c.nc, up.br)
	up.ended = true
	c.closeAs(CloseFIN)
	up.nc.Close()
	<-done
	return false
}

// requestSink is where a request fault's reads go: nowhere, or in relay mode for a fault
// that lets the app see the start of the request, to the app (a failure of the app there
// is counted and the bytes dropped).
func (c *conn) requestSink() io.Writer {
	if !c.forwardReads || !c.relaying() {
		return io.Discard
	}
	up, err := c.upstreamConn()
	if err != nil {
		c.rcount(err.(*appError).kind)
		return io.Discard
	}
	if up.claim() != nil {
		return io.Discard // the app has just ended its side
	}
	c.rcount(rForwarded)
	if up.requests > 0 {
		c.rcount(rOnReused)
	}
	up.requests++
	w := &bestEffort{w: up.nc}
	if c.headRead {
		w.Write(c.req.raw)
	}
	return w
}

// bestEffort writes to w until a write fails, then drops the rest.
type bestEffort struct {
	w      io.Writer
	failed bool
}

func (b *bestEffort) Write(p []byte) (int, error) {
	if !b.failed {
		if _, err := b.w.Write(p); err != nil {
			b.failed = true
		}
	}
	return len(p), nil
}

// dripStep is how a body goes out at rate bytes per second: step bytes every interval.
func dripStep(rate int) (step int, every time.Duration) {
	step, every = rate*int(dripInterval)/int(time.Second), dripInterval
	if step < 1 {
		step, every = 1, time.Second/time.Duration(rate)
	}
	return step, every
}

// dripWriter writes at rate bytes per second, in slices every dripInterval (delay's
// body-rate), and stops when the peer leaves.
type dripWriter struct {
	c    *conn
	rate int
}

func (d *dripWriter) Write(p []byte) (int, error) {
	step, every := dripStep(d.rate)
	n := 0
	for n < len(p) {
		if err := d.c.wait(every); err != nil {
			return n, err
		}
		k := min(step, len(p)-n)
		if err := d.c.write(p[n : n+k]); err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}
