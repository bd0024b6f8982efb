package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatecrash/gatecrash/internal/h2wire"

	"github.com/gatecrash/gatecrash/results"
)

// HTTP/2 (Config.HTTP2): each of the Connections is one HTTP/2 connection — h2c with prior
// knowledge for an http:// URL, h2 by ALPN for https:// — shared by Streams workers, each with
// one request in flight at a time. Frames are golang.org/x/net/http2's Framer; one reader
// goroutine per connection hands each stream's end to its worker — or, in a closed loop with
// no think time, records it and sends the worker's next request itself (relaunchCall), as an
// event loop would. Nothing is ever sent again:
// a stream the server refuses (RST_STREAM REFUSED_STREAM), resets, or leaves above a GOAWAY's
// last stream id is counted in its own class (refused-stream, stream-reset, goaway), and a
// worker whose connection has ended or has received a GOAWAY opens a new one for its next
// request, never for the one that failed. The server's SETTINGS_MAX_CONCURRENT_STREAMS is not
// waited for: Streams is the limit, and a stream past the server's shows as refused-stream.

// h2Window is the receive window the client gives the server, per stream and for the
// connection; the connection's is topped up once half of it has been used.
const h2Window = 1 << 30

// h2render lays out a request's HEADERS block once: the pseudo-headers, user-agent,
// content-length, and the load's and the request's own headers, lower-cased, without Host
// (it becomes :authority) and the connection-specific ones HTTP/2 forbids. block names no
// dynamic table entry and is valid on any connection; warm (nil when there is none) is the
// same request as references to the entries block added: valid after block on the same
// connection, with nothing else sent between (h2wire.Warm), as a client that keeps one HPACK
// table per connection sends its repeated requests.
func h2render(cfg *Config, method string, t *target, own []string, body []byte) (block, warm []byte) {
	authority := t.host
	var extra []hpack.HeaderField
	for _, hd := range append(append([]string{}, cfg.Headers...), own...) {
		name, value, _ := strings.Cut(hd, ":")
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		switch name {
		case "host":
			authority = value
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te":
		default:
			extra = append(extra, hpack.HeaderField{Name: name, Value: value})
		}
	}
	scheme := "http"
	if t.https {
		scheme = "https"
	}
	fields := []hpack.HeaderField{{Name: ":method", Value: method}, {Name: ":scheme", Value: scheme},
		{Name: ":authority", Value: authority}, {Name: ":path", Value: t.path}, {Name: "user-agent", Value: "gatecrash"}}
	if len(body) > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		fields = append(fields, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(body))})
	}
	block, warm, ok := h2wire.Warm(append(fields, extra...)...)
	if !ok {
		warm = nil
	}
	return block, warm
}

// h2slot is one of the run's connections, shared by its Streams workers; a worker that finds
// it ended (or going away) opens the next.
type h2slot struct {
	mu sync.Mutex
	c  *h2conn
}

// h2conn is one HTTP/2 connection.
type h2conn struct {
	nc    *countingConn
	id    uint64
	local string
	fr    *http2.Framer
	bw    *bufio.Writer

	wmu   sync.Mutex    // frame writes; HEADERS go out under it in stream id order
	warm  bool          // under wmu: a request's first block went out, its warm one may follow
	flush chan struct{} // a frame waits in bw: the flusher writes what has gathered
	ended chan struct{} // closed when the connection has ended (fail)
	wait  time.Duration // the longest a write may block: the request timeout

	mu       sync.Mutex // everything below
	cond     sync.Cond  // a send window grew, or the connection ended
	streams  h2streams
	nextID   uint32
	opened   int
	goneAway bool
	lastID   uint32
	err      error       // why the connection ended (set once)
	sendWin  int64       // the connection's send window
	peer     h2wire.Peer // what the server's SETTINGS said
	recvUsed int64       // received DATA not yet given back to the connection window
	idleAt   time.Time   // when it last came to have no stream open

	// the read loop's own: response header blocks are decoded here, looking only at :status
	// (the Framer's MetaHeadersFrame would allocate every field of every response)
	dec     *hpack.Decoder
	hstatus int    // the :status of the block being decoded
	hdrID   uint32 // the stream whose header block goes on in CONTINUATION frames (0: none)
	hdrEnd  bool   // that block's HEADERS had END_STREAM
	hdrLen  int64
	// again is the last single-frame header block decoded that held indexed fields only, and
	// againStatus its :status: the same bytes are not decoded again while the table stays as
	// it was (any other block decoded may change it, and clears again). A server answering
	// the same response over and over sends the same few bytes each time.
	again       []byte
	againStatus int
	// relaunch holds the calls that ended well whose next request the reader starts itself
	// once it has released mu (the read loop's own, like dec).
	relaunch []*h2call
	br       *bufio.Reader // the Framer's reader: HEADERS and CONTINUATION payloads are read from it here
	in       stampedReader // br's source, which notes when each read returned
	hpay     []byte        // their payload, reused
}

// stampedReader reads the connection for the read loop and notes when each read returned: the
// moment the bytes it brought — the ends of the responses among them — were there.
type stampedReader struct {
	r  io.Reader
	at time.Time
}

func (a *stampedReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	a.at = time.Now()
	return n, err
}

// h2call is one worker's stream, reused for each of its requests.
type h2call struct {
	id       uint32
	done     chan struct{} // one send per request, when it ended
	ended    bool
	status   int
	head     bool // the final response HEADERS arrived
	read     int64
	sendWin  int64
	err      error
	deadline time.Time // the request's timeout: the sweeper cancels the stream then
	// run is the worker's run; with run.inline the reader starts the worker's next request
	// itself when this one ends well (see relaunch), and next says what it did.
	run      *h2run
	relaunch bool  // this stream's worker waits: the reader may relaunch it
	wrote    int64 // the request's bytes: its header block (first or warm) and body
	next     h2next
}

// h2next is what the worker finds when it wakes: its stream ended (h2Finished), or the
// reader ran the worker's requests itself (relaunch) and then either ended the worker's run
// (h2Stop: the pacer said stop, or the worker was aborted; every request is recorded) or
// started the next attempt but could not open it on this connection (h2Prepared: the worker
// opens it).
type h2next uint8

const (
	h2Finished h2next = iota
	h2Stop
	h2Prepared
)

// h2StreamError is the server's RST_STREAM.
type h2StreamError struct{ code http2.ErrCode }

func (e h2StreamError) Error() string { return "stream reset by the server: " + e.code.String() }

// h2GoAwayError is a stream above the last stream id of the server's GOAWAY.
type h2GoAwayError struct {
	id, last uint32
	code     http2.ErrCode
}

func (e h2GoAwayError) Error() string {
	return fmt.Sprintf("stream %d above the server's GOAWAY (last stream %d, %s): not processed", e.id, e.last, e.code)
}

// errH2Malformed is a stream that ended without a final response.
var errH2Malformed = fmt.Errorf("%w: HTTP/2 stream ended without a response status", errMalformed)

// dialH2 opens an HTTP/2 connection and sends the preface, its SETTINGS and the connection
// window; it does not wait for the server's SETTINGS (as Go's and most clients do not).
func (cl *client) dialH2(deadline time.Time) (*h2conn, phase, error) {
	nc, _, ph, err := cl.dialRaw(deadline)
	if err != nil {
		return nil, ph, err
	}
	if tc, ok := nc.(*tls.Conn); ok {
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			tc.Close()
			return nil, phaseHandshake, fmt.Errorf("the server did not agree to HTTP/2 by ALPN (it chose %q): %w", p, errNoH2)
		}
	}
	cc := &countingConn{Conn: nc}
	c := &h2conn{nc: cc, id: cl.connIDs.Add(1), local: nc.LocalAddr().String(), streams: newH2Streams(cl.cfg.Streams), nextID: 1,
		sendWin: h2wire.DefaultWindow, peer: h2wire.NewPeer()}
	c.cond.L = &c.mu
	c.bw = bufio.NewWriterSize(cc, 32<<10)
	c.in.r = cc
	c.br = bufio.NewReaderSize(&c.in, 64<<10)
	c.fr = http2.NewFramer(c.bw, c.br)
	c.fr.SetReuseFrames() // a frame is done with before the next is read
	c.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			c.hstatus, _ = strconv.Atoi(f.Value)
		}
	})
	c.dec.SetMaxStringLength(1 << 20)
	cc.SetWriteDeadline(deadline)
	if err := h2wire.StartClient(c.bw, c.fr, h2Window, http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2Window}); err != nil {
		cc.Close()
		return nil, phaseExchange, err
	}
	cc.SetWriteDeadline(time.Time{})
	c.flush, c.ended, c.wait = make(chan struct{}, 1), make(chan struct{}), cl.cfg.Timeout.D()
	go c.readLoop()
	go c.flusher()
	go c.sweep(sweepEvery(cl.cfg.Timeout.D()))
	return c, phaseExchange, nil
}

// errNoH2 marks a TLS server that would not speak HTTP/2.
var errNoH2 = errors.New("no h2")

// usable reports whether a new stream may go on the connection: it has not ended, no GOAWAY
// came, and it has not sat idle (no stream open) longer than idleTimeout (0: no limit) — the
// client's own idle window, as Go's Transport.IdleConnTimeout closes an idle h2 connection.
func (c *h2conn) usable(idleTimeout time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if idleTimeout > 0 && c.streams.len() == 0 && !c.idleAt.IsZero() && time.Since(c.idleAt) > idleTimeout {
		return false
	}
	return c.err == nil && !c.goneAway && c.nextID < 1<<31-1
}

// conn returns the slot's connection for a new stream, opening one when there is none or it
// cannot take one. fresh reports that this worker opened it.
func (s *h2slot) conn(cl *client, deadline time.Time) (c *h2conn, fresh bool, ph phase, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil && s.c.usable(cl.cfg.IdleTimeout.D()) {
		return s.c, false, phaseExchange, nil
	}
	if s.c != nil {
		s.c.closeWhenDone()
		s.c = nil
	}
	c, ph, err = cl.dialH2(deadline)
	if err != nil {
		return nil, false, ph, err
	}
	s.c = c
	return c, true, ph, nil
}

// closeWhenDone closes a connection the slot has left once its last stream has ended.
func (c *h2conn) closeWhenDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streams.len() == 0 {
		c.nc.Close()
		return
	}
	c.goneAway = true // no new stream; finish closes it after the last
}

// open registers call as a new stream and sends its HEADERS (with END_STREAM when there is no
// body). ok is false when the connection cannot take it (ended, or going away) or, with
// noWait, when the frame would not fit in the write buffer: nothing was sent, and the caller
// may use another connection.
func (c *h2conn) open(call *h2call, rq *rendered, a *attempt, deadline time.Time, noWait bool) (ok bool, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if noWait && c.bw.Available() < len(rq.h2block)+9 { // this frame might make bw write
		return false, nil
	}
	c.mu.Lock()
	if c.err != nil || c.goneAway {
		c.mu.Unlock()
		return false, nil
	}
	// The attempt is filled in before the stream is: once it is registered, its end (and the
	// reader's relaunch) may come before open returns.
	a.reused, a.connID, a.local = c.opened > 0, c.id, c.local
	call.id, call.ended, call.status, call.head, call.read, call.err = c.nextID, false, 0, false, 0, nil
	call.deadline = deadline
	call.sendWin = c.peer.InitialWindow
	// Only a call whose worker waits does the reader relaunch: one with a body is still
	// being sent by its worker when the answer may come.
	call.relaunch = call.run != nil && call.run.inline && len(rq.body) == 0
	c.nextID += 2
	c.streams.add(call)
	c.opened++
	// After the connection's first block, the same request's warm one: the server's table
	// holds what the first added, unless it keeps a smaller table than HPACK's default.
	block := rq.h2block
	if c.warm && rq.h2warm != nil && c.peer.HeaderTable >= h2wire.DefaultHeaderTable {
		block = rq.h2warm
	}
	c.mu.Unlock()
	call.wrote = int64(len(block) + len(rq.body))
	if c.bw.Available() < len(block)+9 { // this frame will make bw write: bound the wait
		c.nc.SetWriteDeadline(deadline)
	}
	err = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: call.id, BlockFragment: block, EndHeaders: true,
		EndStream: len(rq.body) == 0})
	c.warm = c.warm || err == nil && rq.h2warm != nil
	if err == nil && len(rq.body) == 0 && !noWait { // the reader (noWait) flushes before it reads on
		c.wantFlush()
	}
	return true, err
}

// sendBody sends the request body in DATA frames as the send windows allow, the last with
// END_STREAM.
func (c *h2conn) sendBody(call *h2call, body []byte, deadline time.Time) error {
	for len(body) > 0 {
		c.mu.Lock()
		var wake *time.Timer
		for c.err == nil && !call.ended && (c.sendWin <= 0 || call.sendWin <= 0) && time.Now().Before(deadline) {
			if wake == nil { // a server that never opens its window must not hold us past the deadline
				wake = time.AfterFunc(time.Until(deadline), func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
			}
			c.cond.Wait()
		}
		if wake != nil {
			wake.Stop()
		}
		switch {
		case c.err != nil:
			err := c.err
			c.mu.Unlock()
			return err
		case call.ended: // the server answered (or reset it) before taking the whole body
			c.mu.Unlock()
			return nil
		case c.sendWin <= 0 || call.sendWin <= 0:
			c.mu.Unlock()
			return fmt.Errorf("request body: the server's flow-control window stayed closed: %w", errH2Timeout)
		}
		n := min(int64(len(body)), c.sendWin, call.sendWin, int64(c.peer.MaxFrame))
		c.sendWin -= n
		call.sendWin -= n
		c.mu.Unlock()
		c.wmu.Lock()
		c.nc.SetWriteDeadline(deadline)
		err := c.fr.WriteData(call.id, n == int64(len(body)), body[:n])
		c.wmu.Unlock()
		if err == nil {
			c.wantFlush()
		}
		if err != nil {
			return err
		}
		body = body[n:]
	}
	return nil
}

// wantFlush asks the flusher to write what bw holds. Streams opened meanwhile by the other
// workers join the same write: one write(2) for many HEADERS, as an event-loop client makes.
func (c *h2conn) wantFlush() {
	select {
	case c.flush <- struct{}{}:
	default: // a flush is already due: it will take this frame too
	}
}

// flusher writes the frames gathered in bw, until the connection ends.
func (c *h2conn) flusher() {
	for {
		select {
		case <-c.ended:
			return
		case <-c.flush:
		}
		// Let the workers the reader has just woken open their streams first: their HEADERS
		// join this write (without the yield each would get a write of its own).
		runtime.Gosched()
		c.wmu.Lock()
		c.nc.SetWriteDeadline(time.Now().Add(c.wait))
		err := c.bw.Flush()
		c.wmu.Unlock()
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// sweepEvery is how often a connection's streams are checked for their deadline: every 10 ms,
// or a tenth of the timeout when that is shorter (a timeout is recorded at most that late).
// One ticker per connection instead of a timer per request: the per-request cost stays off
// the timer heap.
func sweepEvery(timeout time.Duration) time.Duration {
	return max(time.Millisecond, min(10*time.Millisecond, timeout/10))
}

// sweep cancels (RST_STREAM CANCEL) the streams past their deadline, until the connection
// ends.
func (c *h2conn) sweep(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var late []*h2call
	for {
		select {
		case <-c.ended:
			return
		case now := <-t.C:
			c.mu.Lock()
			c.streams.each(func(call *h2call) {
				if !now.Before(call.deadline) {
					late = append(late, call)
				}
			})
			c.mu.Unlock()
			for _, call := range late {
				c.cancel(call, errH2Timeout)
			}
			late = late[:0]
		}
	}
}

// errH2Timeout is a wait that reached the request's deadline.
var errH2Timeout = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// finishLocked ends a stream with err (nil: its response is complete). c.mu is held.
func (c *h2conn) finishLocked(call *h2call, err error) {
	if call.ended {
		return
	}
	call.ended, call.err = true, err
	c.streams.remove(call)
	if c.streams.len() == 0 {
		c.idleAt = time.Now()
	}
	if err == nil && call.relaunch {
		c.relaunch = append(c.relaunch, call) // only the reader ends a stream well
	} else {
		call.done <- struct{}{}
	}
	if c.goneAway && c.streams.len() == 0 {
		c.nc.Close() // left by its slot, or above a GOAWAY: nothing more will come on it
	}
}

// cancel ends a stream whose deadline has passed: RST_STREAM CANCEL, and the worker's wait
// ends with err. A stream that has ended meanwhile — or whose call has moved on to the next
// request, with a later deadline — is left alone.
func (c *h2conn) cancel(call *h2call, err error) {
	c.mu.Lock()
	if call.ended || time.Now().Before(call.deadline) {
		c.mu.Unlock()
		return
	}
	id := call.id
	c.finishLocked(call, err)
	c.mu.Unlock()
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	if c.fr.WriteRSTStream(id, http2.ErrCodeCancel) == nil {
		c.bw.Flush()
	}
	c.wmu.Unlock()
}

// fail ends the connection: every open stream ends with err.
func (c *h2conn) fail(err error) {
	c.mu.Lock()
	c.failLocked(err)
	c.mu.Unlock()
}

// failLocked is fail with c.mu held.
func (c *h2conn) failLocked(err error) {
	if c.err == nil {
		c.err = err
		close(c.ended)
	}
	c.streams.each(func(call *h2call) { c.finishLocked(call, err) })
	c.cond.Broadcast()
	c.nc.Close()
}

// readLoop reads the server's frames and hands each stream's end to its worker.
func (c *h2conn) readLoop() {
	for {
		if c.br.Buffered() < 9 && !c.flushRelaunched() {
			return
		}
		fh, err := c.fr.ReadFrameHeader() // its size and frame-order checks
		if err != nil {
			c.fail(err)
			return
		}
		var ok bool
		if fh.Type == http2.FrameHeaders || fh.Type == http2.FrameContinuation {
			ok = c.readHeaders(fh) // without the HeadersFrame x/net's parser allocates per frame
		} else {
			f, err := c.fr.ReadFrameForHeader(fh)
			if err != nil {
				c.fail(err)
				return
			}
			ok = c.handle(f)
		}
		for _, call := range c.relaunch {
			c.relaunchCall(call) // on an ended connection the open fails and the worker takes over
		}
		clear(c.relaunch)
		c.relaunch = c.relaunch[:0]
		if !ok {
			return
		}
	}
}

// flushRelaunched writes the HEADERS the reader's relaunches gathered, before it waits for
// more frames: one write for all the streams the last read's answers let it send, as an event
// loop writes after it has read (a worker's own frames go through the flusher). The write is
// of a few bytes per stream; it is bounded by the request timeout should the server stop
// reading. False when it failed (the connection is over).
func (c *h2conn) flushRelaunched() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.bw.Buffered() == 0 {
		return true
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.wait))
	if err := c.bw.Flush(); err != nil {
		c.fail(err)
		return false
	}
	return true
}

// relaunchCall records the request of a call that ended well and starts its worker's next one
// on this connection, as the worker would have, without waking the worker: an event loop's
// turn instead of a goroutine's wake and park per request (closed loop with no think time
// only: run.inline). When the pacer says stop, or the worker was aborted, the worker wakes to
// end its run; when the next request cannot go out here without blocking (the connection is
// ending or going away, the request has a body, the write buffer is full), it wakes to send
// it itself.
func (c *h2conn) relaunchCall(call *h2call) {
	r := call.run
	// This request's end, and the next one's start: when the read that brought its last frame
	// returned (the reader goes on with the next request at once). One clock reading per read
	// for all the streams whose ends it brought, not one per stream: in this VM a reading is
	// about 3% of the client's CPU at 16 connections x 10 streams.
	now := c.in.at
	r.a.finish(call, &r.w.client.reqs[r.a.req], now)
	if !r.end() || !r.begin() {
		call.next = h2Stop
		call.done <- struct{}{}
		return
	}
	a := &r.a
	a.begin(now)
	rq := &r.w.client.reqs[a.req]
	ok, err := false, error(nil)
	if len(rq.body) == 0 {
		ok, err = c.open(call, rq, a, a.start.Add(r.w.client.cfg.Timeout.D()), true)
	}
	if !ok {
		call.next = h2Prepared
		call.done <- struct{}{}
		return
	}
	if err != nil {
		c.fail(err) // the stream ends with it, and the worker wakes
	}
}

// decodeBlock decodes part of a response header block (every block, whatever its stream, so
// the decoder's table stays the server's). A block that cannot be decoded ends the
// connection (COMPRESSION_ERROR); false then. c.mu is held.
func (c *h2conn) decodeBlock(frag []byte, end bool) bool {
	_, err := c.dec.Write(frag)
	if err == nil && end {
		err = c.dec.Close()
	}
	if err != nil {
		c.failLocked(fmt.Errorf("%w: %w", http2.ConnectionError(http2.ErrCodeCompression), err))
		return false
	}
	return true
}

// headersDone acts on a stream's complete header block: a final status starts its response;
// with END_STREAM the stream is over. c.mu is held.
func (c *h2conn) headersDone(id uint32, endStream bool) {
	call := c.streams.get(id)
	if call == nil {
		return
	}
	call.read += c.hdrLen
	if st := c.hstatus; st >= 200 || st == 101 {
		call.status, call.head = st, true
	}
	if endStream {
		var err error
		if !call.head {
			err = errH2Malformed
		}
		c.finishLocked(call, err)
	}
}

// readHeaders reads a HEADERS or CONTINUATION frame's payload (the Framer has read its header
// and checked its size and order) and decodes its part of the header block; false when the
// connection is over.
func (c *h2conn) readHeaders(fh http2.FrameHeader) bool {
	if cap(c.hpay) < int(fh.Length) {
		c.hpay = make([]byte, fh.Length)
	}
	p := c.hpay[:fh.Length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.fail(err)
		return false
	}
	frag, err := h2wire.HeaderBlock(fh, p)
	if err != nil {
		c.fail(err)
		return false
	}
	ended := fh.Flags.Has(http2.FlagHeadersEndHeaders)
	c.mu.Lock()
	defer c.mu.Unlock()
	single := fh.Type == http2.FrameHeaders && ended
	switch {
	case single && len(c.again) > 0 && bytes.Equal(frag, c.again):
		c.hstatus = c.againStatus
	default:
		if fh.Type == http2.FrameHeaders {
			c.hstatus = 0
		}
		if !c.decodeBlock(frag, ended) {
			return false
		}
		c.again = c.again[:0]
		if single && h2wire.IndexedOnly(frag) {
			c.again, c.againStatus = append(c.again, frag...), c.hstatus
		}
	}
	if fh.Type == http2.FrameHeaders {
		c.hdrLen = int64(fh.Length)
		if !ended {
			c.hdrID, c.hdrEnd = fh.StreamID, fh.Flags.Has(http2.FlagHeadersEndStream)
			return true
		}
		c.headersDone(fh.StreamID, fh.Flags.Has(http2.FlagHeadersEndStream))
		return true
	}
	c.hdrLen += int64(fh.Length)
	if ended {
		c.headersDone(c.hdrID, c.hdrEnd)
		c.hdrID = 0
	}
	return true
}

// handle acts on one frame from the server; false when the connection is over.
func (c *h2conn) handle(f http2.Frame) bool {
	var ack func() error // a frame to send back, under wmu
	c.mu.Lock()
	switch f := f.(type) {
	case *http2.DataFrame:
		n := int64(f.Header().Length)
		if call := c.streams.get(f.StreamID); call != nil {
			call.read += n
			if f.StreamEnded() {
				c.finishLocked(call, nil)
			}
		}
		if c.recvUsed += n; c.recvUsed >= h2Window/2 {
			used := uint32(c.recvUsed)
			c.recvUsed = 0
			ack = func() error { return c.fr.WriteWindowUpdate(0, used) }
		}
	case *http2.RSTStreamFrame:
		if call := c.streams.get(f.StreamID); call != nil {
			c.finishLocked(call, h2StreamError{code: f.ErrCode})
		}
	case *http2.GoAwayFrame:
		c.goneAway, c.lastID = true, f.LastStreamID
		c.streams.each(func(call *h2call) {
			if call.id > f.LastStreamID {
				c.finishLocked(call, h2GoAwayError{id: call.id, last: f.LastStreamID, code: f.ErrCode})
			}
		})
		if c.streams.len() == 0 {
			c.nc.Close()
		}
	case *http2.SettingsFrame:
		if !f.IsAck() {
			delta, err := c.peer.Apply(f)
			if err != nil {
				c.failLocked(fmt.Errorf("the server's SETTINGS: %w", err))
				c.mu.Unlock()
				return false
			}
			c.streams.each(func(call *h2call) { call.sendWin += delta })
			c.cond.Broadcast()
			ack = c.fr.WriteSettingsAck
		}
	case *http2.WindowUpdateFrame:
		if f.StreamID == 0 {
			c.sendWin += int64(f.Increment)
		} else if call := c.streams.get(f.StreamID); call != nil {
			call.sendWin += int64(f.Increment)
		}
		c.cond.Broadcast()
	case *http2.PingFrame:
		if !f.IsAck() {
			data := f.Data
			ack = func() error { return c.fr.WritePing(true, data) }
		}
	}
	c.mu.Unlock()
	if ack == nil {
		return true
	}
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	err := ack()
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
		return false
	}
	return true
}

// h2run is one worker's run of requests over HTTP/2: its attempt in flight and what recording
// it needs. The worker's goroutine and, with inline, the connection's reader (relaunchCall)
// take turns with it: the reader only while the worker waits on its call's done.
type h2run struct {
	w       *worker
	ctx     context.Context
	p       pacer
	inline  bool // closed loop, no think time: the pacer's next never waits
	a       attempt
	lastEnd time.Time
}

// begin asks the pacer for the next request; false when the worker should stop.
func (r *h2run) begin() bool {
	intended, ok := r.p.next(r.ctx, r.w.id)
	if !ok {
		return false
	}
	r.a = attempt{intended: intended, req: r.w.client.pick()}
	return true
}

// end records the attempt that has ended; false when the worker was aborted meanwhile (it is
// counted as aborted, and the worker stops).
func (r *h2run) end() bool {
	a := &r.a
	if !r.lastEnd.IsZero() {
		a.gap = a.start.Sub(r.lastEnd)
	}
	r.lastEnd = a.end
	r.p.done(r.w.id)
	if r.w.aborted.Load() {
		r.w.shard.abort(a)
		return false
	}
	r.w.shard.record(a)
	return true
}

// begin marks the attempt started at now.
func (a *attempt) begin(now time.Time) {
	a.start = now
	a.openLoop = !a.intended.IsZero()
	if a.intended.IsZero() {
		a.intended = a.start
	}
}

// finish fills in the attempt from its stream's end at now.
func (a *attempt) finish(call *h2call, rq *rendered, now time.Time) {
	a.end = now
	a.read = call.read
	a.written = call.wrote
	a.status = call.status
	a.err = call.err
	a.class = classifyH2(call)
}

// loopH2 is a worker's loop over HTTP/2.
func (w *worker) loopH2(ctx context.Context, p pacer) {
	cp, _ := p.(*closedPacer)
	r := &h2run{w: w, ctx: ctx, p: p, inline: cp != nil && cp.think == 0}
	call := &h2call{done: make(chan struct{}, 1), run: r}
	for r.begin() {
		w.busy.Store(true)
		stopped := w.client.exchangeH2(w.h2.slot(w.id), call, r)
		w.busy.Store(false)
		if stopped || !r.end() {
			return
		}
	}
}

// exchangeH2 sends the run's attempt as a stream on the worker's connection and waits for its
// end. Meanwhile the reader may have run more of the worker's requests itself (run.inline):
// stopped is true when it ended the run, and the attempt to record is the last one.
func (cl *client) exchangeH2(slot *h2slot, call *h2call, r *h2run) (stopped bool) {
	a, w := &r.a, r.w
	a.begin(time.Now())
	for {
		deadline := a.start.Add(cl.cfg.Timeout.D())
		rq := &cl.reqs[a.req]
		for tries := 0; ; tries++ {
			c, fresh, ph, err := slot.conn(cl, deadline)
			if err != nil {
				a.end, a.err, a.class = time.Now(), err, classify(ph, err, false)
				return false
			}
			a.fresh = a.fresh || fresh
			ok, err := c.open(call, rq, a, deadline, false) // the sweeper cancels it at the deadline
			if !ok && tries < 3 {
				continue // the connection ended before this stream went out: nothing was sent
			}
			if !ok { // three new connections ended before they could take it: nothing was sent
				err := errors.New("HTTP/2: the server ended three new connections before a stream could go out")
				a.end, a.err, a.class = time.Now(), err, results.ConnectError
				return false
			}
			w.h2cur.Store(c)
			if err == nil && len(rq.body) > 0 {
				err = c.sendBody(call, rq.body, deadline)
			}
			if err != nil {
				c.fail(err)
			}
			break
		}
		<-call.done // the stream's end, or its deadline (the sweeper's cancel), or the connection's
		next := call.next
		call.next = h2Finished
		switch next {
		case h2Stop:
			w.h2cur.Store(nil)
			return true
		case h2Prepared:
			continue // the reader began the next attempt; it goes out from here
		}
		w.h2cur.Store(nil)
		a.finish(call, &cl.reqs[a.req], time.Now())
		return false
	}
}

// classifyH2 is a stream's outcome class.
func classifyH2(call *h2call) results.Class {
	err := call.err
	if err == nil {
		return results.ClassOfStatus(call.status)
	}
	if se, ok := errors.AsType[h2StreamError](err); ok {
		switch {
		case call.head:
			return results.Truncated
		case se.code == http2.ErrCodeRefusedStream:
			return results.RefusedStream
		}
		return results.StreamReset
	}
	if _, ok := errors.AsType[h2GoAwayError](err); ok {
		return results.GoAway
	}
	if _, ok := errors.AsType[http2.ConnectionError](err); ok {
		return results.Malformed
	}
	if _, ok := errors.AsType[http2.StreamError](err); ok {
		return results.Malformed
	}
	return classify(phaseExchange, err, call.head || call.read > 0)
}

// h2Workers gives each worker its connection slot and stream: Streams workers per slot.
type h2Workers struct {
	slots []*h2slot
	per   int
}

func newH2Workers(cfg *Config) *h2Workers {
	h := &h2Workers{slots: make([]*h2slot, cfg.Connections), per: max(1, cfg.Streams)}
	for i := range h.slots {
		h.slots[i] = &h2slot{}
	}
	return h
}

func (h *h2Workers) slot(worker int) *h2slot { return h.slots[worker/h.per] }

// close closes every connection still open at the end of the run.
func (h *h2Workers) close() {
	for _, s := range h.slots {
		s.mu.Lock()
		if s.c != nil {
			s.c.nc.Close()
		}
		s.mu.Unlock()
	}
}
