package faultserver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/gatecrash/gatecrash/internal/sockio"
)

// The primitives a fault acts through. Each fault kind's file uses only these (and the parsed
// request); the request loop in conn.go uses them too. They run on the connection's own
// goroutine.

// injected records that the fault acting on this connection does what it exists to do. A
// fault calls it as it acts — just before the write or close that delivers it, so that a
// client acting on what it got (a proxy retrying after a GOAWAY, then whoever reads the
// stats) finds it counted; not when the peer went away before the fault's moment came — so
// the ground truth counts injections, not attempts. A second call is ignored.
func (c *conn) injected() {
	if c.acting == nil {
		return
	}
	c.srv.stats.fault(kindOf(c.acting))
	c.recordEvent(c.acting)
	c.acting = nil
}

// idleSince is when the connection's current idle period began: the end of the last response,
// or the accept (or TLS handshake) for a new connection.
func (c *conn) idleSince() time.Time { return c.lastDone }

// awaitRequest waits for the first byte of the next request until deadline (zero: no
// deadline). arrived reports that a request has started; timedOut that the deadline passed
// first, with the connection still open for the caller to end its own way. When neither, the
// peer ended the connection (counted, and closed).
//
// Nothing of the request is taken from the kernel when a request fault may need to read an
// exact number of bytes.
func (c *conn) awaitRequest(deadline time.Time) (arrived, timedOut bool) {
	picked := c.chosen // the steady loop made the early pick for this wait
	c.chosen = false
	if c.br.Buffered() > 0 {
		c.idleFor = time.Since(c.lastDone)
		return true, false // a pipelined request is already here
	}
	// a request fault that may act reads an exact byte count of the request
	exact := len(c.plan.preHead) > 0 && c.rawReads() && peekSupported &&
		(picked && c.early.mayAct(c.plan) || !picked && c.pickBeforeArrival())
	if c.tr != nil && !exact && c.tr.worthTrying(c.served) && (deadline.IsZero() || time.Now().Before(deadline)) {
		// Under load the next request is often here by the time the other connections have
		// had their turn: take it without a wait (and without watching the app meanwhile,
		// for so short an idle period).
		runtime.Gosched()
		c.tr.try = true
		_, err := c.br.Peek(1)
		c.tr.try = false
		c.tr.tried(err == nil)
		switch {
		case err == nil:
			c.idleFor = time.Since(c.lastDone)
			return true, false
		case !errors.Is(err, errWouldBlock):
			c.peerGone(err)
			return false, false
		}
	}
	if c.up != nil && !c.up.watching && !c.up.ended {
		// A short wait without watching the app: under load the next request comes within it,
		// and the hand-over to the watcher and back is saved. The app's own close in this
		// first moment of idleness is passed on when it ends (no app closes idle connections
		// that fast: the shortest keep-alive timeouts are around a second).
		if grace := c.lastDone.Add(watchAfter); time.Now().Before(grace) && (deadline.IsZero() || grace.Before(deadline)) {
			c.setReadDeadline(grace)
			switch err := c.awaitFirstByte(exact); {
			case err == nil:
				c.idleFor = time.Since(c.lastDone)
				return true, false
			case !isTimeout(err):
				c.peerGone(err)
				return false, false
			}
		}
	}
	if c.up != nil {
		c.up.release()                           // the app connection is idle too: the watcher watches it
		if gone := c.up.waiting(); gone != nil { // the app ended its side while this one was busy
			c.appEndedIdle(gone)
			return false, false
		}
	}
	c.setReadDeadline(deadline)
	err := c.awaitFirstByte(exact)
	if c.up != nil {
		if gone := c.up.working(); gone != nil { // the app ended its side during the wait
			c.appEndedIdle(gone)
			return false, false
		}
	}
	switch {
	case err == nil:
		c.idleFor = time.Since(c.lastDone)
		return true, false
	case isTimeout(err):
		// how long it has sat idle now, for the idle fault that acts on the timeout (its
		// event); a request that comes after all sets it again
		c.idleFor = time.Since(c.lastDone)
		return false, true
	}
	c.peerGone(err)
	return false, false
}

// requestWaiting reports whether bytes of a next request are already here — read into the
// connection's buffer, or still in the kernel's receive queue — without waiting or taking
// them.
func (c *conn) requestWaiting() bool {
	return c.br.Buffered() > 0 || c.unreadInKernel() > 0
}

// awaitFirstByte waits, under the read deadline set, until a request's first byte is there:
// without taking it from the kernel when request faults read exact byte counts (exact).
func (c *conn) awaitFirstByte(exact bool) error {
	if exact {
		return c.waitReadable()
	}
	_, err := c.br.Peek(1)
	return err
}

// watchAfter is how long a relayed connection may sit idle before the watcher watches its
// app connection.
const watchAfter = 5 * time.Millisecond

// readRequestBytes makes exactly n bytes of the current request consumed, counted from its
// first byte (head, then body): the bytes after n stay unread in the kernel, where they decide
// whether Linux closes with FIN or RST. When the head has been read already (a fault chosen by
// a header or a match) only the body can still be held back. A request that ends early or
// stalls is taken as far as it went; ok is false only when the peer reset the connection or
// another error ended it (the fault then did not act).
func (c *conn) readRequestBytes(n int64) (ok bool) {
	if c.headRead {
		n -= int64(c.req.HeadBytes)
	}
	if n <= 0 {
		return true
	}
	sink := c.requestSink()
	c.setReadDeadline(time.Now().Add(c.plan.cfg.Limits.BodyTimeout.D()))
	if b := int64(c.br.Buffered()); b > 0 {
		p, _ := c.br.Peek(int(min(b, n)))
		sink.Write(p)
		d, _ := c.br.Discard(len(p))
		n -= int64(d)
	}
	var err error
	if n > 0 {
		_, err = io.CopyN(sink, c.nc, n)
	}
	return c.readEnded(err)
}

// readRequest consumes the rest of the current request, head (if not read yet) and body, with
// the same ok rule as readRequestBytes.
func (c *conn) readRequest() (ok bool) {
	var err error
	if !c.headRead {
		err = c.consumeHead()
	}
	if err == nil {
		err = c.readBody(&c.req)
	}
	return c.readEnded(err)
}

// readEnded decides whether a fault may still act after a read that returned err.
func (c *conn) readEnded(err error) bool {
	if err == nil || errors.Is(err, errIncomplete) || errors.Is(err, io.EOF) || isTimeout(err) {
		return true
	}
	c.peerGone(err) // the peer gave up before the fault could act: nothing was injected
	return false
}

// write writes b in full.
func (c *conn) write(b []byte) error {
	var err error
	if c.inSteadyWait() {
		if rs := c.st.src.ring; rs != nil {
			return rs.write(b) // queued in the ring, sent before the wait ends
		}
		// the socket is at hand: written without the runtime's bookkeeping for a call that
		// may block, and only what its send buffer does not take through the connection
		_, err = sockio.Write(c.st.src.fd, c.nc, b)
	} else {
		_, err = c.nc.Write(b)
	}
	return err
}

// normalResponse returns the plan's normal response to req, split into head and framed body
// (empty for HEAD), on a connection that stays open when keep is true.
func (c *conn) normalResponse(req *Request, keep bool) (head, body []byte) {
	r := c.plan.resp
	m := modeFor(req, keep)
	head = r.wire[m][:r.headLen[m]]
	if !isHEAD(req) {
		body = r.wire[m][r.headLen[m]:]
	}
	return head, body
}

// writeHead writes a response head with the given status, announcing a body of bodyLen bytes
// (Content-Length) or chunked framing.
func (c *conn) writeHead(status, bodyLen int, chunked bool, req *Request, keep bool) error {
	c.wbuf = renderHead(c.wbuf[:0], status, bodyLen, chunked, modeFor(req, keep))
	return c.write(c.wbuf)
}

// writePayload writes the first n bytes of the size-byte payload the server sends (see
// Payload). With chunked, the payload is framed in chunks of chunkSize and the output stops
// right after payload byte n, inside its chunk (before the chunk's CRLF): the last chunk never
// comes. It streams from a fixed buffer, so a fault may announce a large body without the
// server allocating it.
func (c *conn) writePayload(size, n int, chunked bool) error {
	const flushAt = 32 << 10
	b := c.wbuf[:0]
	var err error
	appendRange := func(from, to int) {
		for from < to && err == nil {
			p := payloadAt(size, from, to-from)
			b = append(b, p...)
			from += len(p)
			if len(b) >= flushAt {
				err = c.write(b)
				b = b[:0]
			}
		}
	}
	if !chunked {
		appendRange(0, n)
	} else {
		for off := 0; off < size && err == nil; off += chunkSize {
			end := min(off+chunkSize, size)
			b = strconv.AppendInt(b, int64(end-off), 16)
			b = append(b, "\r\n"...)
			appendRange(off, min(end, n))
			if n <= end {
				break
			}
			b = append(b, "\r\n"...)
		}
	}
	c.wbuf = b
	if err != nil || len(b) == 0 {
		return err
	}
	return c.write(b)
}

// wait blocks for d. It returns early with an error when the server shuts down or the peer
// leaves (its FIN or RST arrives): a fault that holds a connection must not hold a dead one.
// Only a peer's close is watched for; a pipelined request arriving meanwhile does not end
// the wait.
func (c *conn) wait(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	end := time.Now().Add(d)
	if c.raw != nil && peekSupported && (c.br == nil || c.br.Buffered() == 0) {
		c.raw.SetReadDeadline(end)
		// A shutdown ends the wait too (it lets requests in flight finish, not faults that
		// hold them on purpose).
		stop := context.AfterFunc(c.ctx, func() { c.raw.SetReadDeadline(time.Now()) })
		err := c.waitReadable()
		stop()
		c.raw.SetReadDeadline(time.Time{})
		c.hasDeadline = false
		switch {
		case c.ctx.Err() != nil:
			return c.ctx.Err()
		case isTimeout(err):
			return nil
		case err != nil:
			return err
		}
		// Request bytes are there: the peer is still with us. Wait out the rest on the clock.
	}
	t := time.NewTimer(time.Until(end))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

// drainUntilClosed reads and drops whatever arrives until the peer closes (or shutdown closes
// the connection), then records the end.
func (c *conn) drainUntilClosed() {
	c.setReadDeadline(time.Time{})
	_, err := io.Copy(io.Discard, c.nc)
	if err == nil {
		err = io.EOF
	}
	c.peerGone(err)
}

// closeAs ends the connection the way mode says and counts what the kernel sent.
func (c *conn) closeAs(mode CloseMode) {
	if c.closed {
		return
	}
	c.closed = true
	// Counted before the syscall, so a peer never sees a close the counters do not show yet.
	if mode == CloseRST && c.raw != nil {
		c.waitTransmitted()
		c.srv.stats.serverRST.Add(1)
		c.raw.SetLinger(0)
		c.closeSocket(c.raw)
		return
	}
	if c.unreadInKernel() > 0 {
		c.srv.stats.serverRST.Add(1) // Linux answers close(2) with RST when input is unread
	} else {
		c.srv.stats.serverFIN.Add(1)
	}
	c.closeSocket(c.nc)
}

// halfClose sends FIN but keeps reading (and discarding) until the peer closes, so the peer
// sees a clean end of the response stream while its own writes still succeed.
func (c *conn) halfClose() {
	c.closed = true
	c.srv.stats.serverFIN.Add(1)
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.setReadDeadline(time.Now().Add(c.plan.cfg.Limits.BodyTimeout.D()))
	io.Copy(io.Discard, c.br)
	c.nc.Close()
}

// waitTransmitted waits (briefly) until everything written has left this host, so an RST
// that follows does not discard bytes the fault meant to deliver. It does not wait for the
// peer's acknowledgement: a peer that delays its ACK (40 ms on Linux) would hold every reset
// connection that long.
func (c *conn) waitTransmitted() {
	if !queueSizesSupported {
		return
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	t := time.NewTicker(50 * time.Microsecond)
	defer t.Stop()
	for c.unsentInKernel() > 0 && time.Now().Before(deadline) {
		select {
		case <-t.C:
		case <-c.ctx.Done():
			return
		}
	}
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
		// shut down by Serve, which closed the socket or (draining) leaves that to us: a
		// server-side FIN
		c.closed = true
		c.srv.stats.serverFIN.Add(1)
		c.closeSocket(c.nc)
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
		c.closeSocket(c.nc)
	}
}

// overTLS reports whether the connection is TLS. (A listener's wrapper around a plain
// connection is not: probe proxy watches the upstream's connections so.)
func (c *conn) overTLS() bool {
	_, ok := c.nc.(*tls.Conn)
	return ok
}

// rawReads reports whether the connection is the socket itself, which can be peeked and read
// a byte count at a time in the kernel (a plain TCP connection: not TLS, not a wrapper).
func (c *conn) rawReads() bool { return c.raw != nil && net.Conn(c.raw) == c.nc }

func (c *conn) setReadDeadline(t time.Time) {
	if c.st != nil && c.st.src.ring != nil && c.st.src.inWait {
		c.rdl = t // the ring's wait bounds its read by it
		c.hasDeadline = c.hasDeadline || !t.IsZero()
		return
	}
	if t.IsZero() && !c.hasDeadline {
		return
	}
	c.hasDeadline = !t.IsZero()
	c.nc.SetReadDeadline(t)
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
