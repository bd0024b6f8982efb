package faultserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatecrash/gatecrash/internal/h2wire"
)

// HTTP/2 with prior knowledge (h2c), next to HTTP/1.1 on the same port, and over TLS by ALPN
// ("h2" offered beside "http/1.1"), when Config.HTTP2 is on: a connection whose first bytes
// are the client preface is served here. The framing is
// golang.org/x/net/http2's Framer and hpack — not http2.Server, which would hide the frames a
// fault must own. One goroutine per connection reads the frames and answers each stream as
// its request ends; the HTTP/2 phases are idle (no stream open: H2IdleFault) and stream (a
// request read, before its answer: H2StreamFault). Selectors work per stream as per request
// (probability, every, nth: the nth stream of the connection; match: the :path prefix or a
// request header field).

// H2IdleFault acts while an HTTP/2 connection has no stream open, as IdleFault does between
// HTTP/1.1 requests.
type H2IdleFault interface {
	Fault
	// h2idle waits for the next frame (h.awaitRequest) and ends the connection its own way if
	// none comes in time. It returns true when a frame has started to arrive.
	h2idle(h *h2conn) (arrived bool)
}

// H2StreamFault replaces a stream's answer once its request has been read (END_STREAM).
type H2StreamFault interface {
	Fault
	// h2respond answers (or does not answer) the stream its own way and calls h.injected once
	// it acted. It returns false when the connection is over.
	h2respond(h *h2conn, st *h2stream) (keepConn bool)
}

// H2ConnFault shapes a whole HTTP/2 connection: it is chosen once, as the connection starts
// (probability, every; nth and match are not read), adds to the server's first SETTINGS, and
// is consulted as each stream opens.
type H2ConnFault interface {
	Fault
	// h2settings returns the settings the fault adds to the server's first SETTINGS frame.
	h2settings() []http2.Setting
	// h2opened is called as the client opens stream id, before the stream is taken. refused
	// reports that the fault refused it (it wrote the frames and counted itself); ok is false
	// when the connection is over.
	h2opened(h *h2conn, id uint32) (refused, ok bool)
	// h2ping reports whether the server answers the client's PING.
	h2ping(h *h2conn) (answer bool)
	// h2window reports whether the server gives back the n bytes a DATA frame of st (nil: a
	// stream it no longer knows) took of the flow-control windows.
	h2window(h *h2conn, st *h2stream, n uint32) (give bool)
}

// h2ConnHooks are the H2ConnFault hooks a kind does not use: no settings, every stream taken,
// every PING answered, every window given back. Embed it with the yaml tag "-".
type h2ConnHooks struct{}

func (h2ConnHooks) h2settings() []http2.Setting                 { return nil }
func (h2ConnHooks) h2opened(*h2conn, uint32) (refused, ok bool) { return false, true }
func (h2ConnHooks) h2ping(*h2conn) bool                         { return true }
func (h2ConnHooks) h2window(*h2conn, *h2stream, uint32) bool    { return true }

// h2conn is one HTTP/2 connection: the conn it arrived on, its framer and its open streams.
type h2conn struct {
	*conn
	fr      *http2.Framer
	bw      *bufio.Writer
	enc     *h2wire.Encoder
	hdr     *h2wire.RequestHeaders // request header blocks, read without allocating
	free    []*h2stream            // streams done with, to be taken again
	lenText string                 // the last content-length sent, as text
	lenOf   int                    // and its value
	streams map[uint32]*h2stream
	maxID   uint32      // the highest stream id the client opened
	window  int64       // the connection's send window
	peer    h2wire.Peer // what the client's SETTINGS said
	nstream int         // streams whose request was read: the nth a selector counts
	opened  int         // streams the client opened (HEADERS), refused ones too
	// received is the DATA the client has sent (bytes of the flow-controlled payload)
	received int64
	// shaped: the shaper has acted on this connection (a kind that counts once per connection)
	shaped bool
	// goneAway: a GOAWAY naming lastID went out; streams above it are refused, and the
	// connection closes once the ones at or below it are done.
	goneAway bool
	lastID   uint32
	closeAt  time.Time // with goneAway: read on (refusing new streams) until then, then close
	// held are answers a fault holds until a time (delay's head-delay, a dripped body's next
	// slice); the read loop wakes for them.
	held []heldAnswer
	// shaper is the connection's H2ConnFault, if one was chosen when it started.
	shaper H2ConnFault
}

// heldAnswer is a stream's answer, or its next step, held until at. It acts only while
// h.streams[id] is still st: a stream done with is taken again for another id.
type heldAnswer struct {
	at   time.Time
	id   uint32
	st   *h2stream
	fire func(h *h2conn, st *h2stream) bool
}

// h2stream is one stream: its request as read, and the answer not yet sent.
type h2stream struct {
	id            uint32
	method, path  string
	fields        []hpack.HeaderField // the request's regular header fields (match reads them)
	body          int64               // request body bytes received
	window        int64               // send window
	pending       []byte
	rest          []byte // body not yet released to pending (a dripped body)
	headersSent   bool
	requestEnded  bool
	responseEnded bool
}

// matches implements Selector.Match for a stream: a path prefix against :path, or a header
// field by name (HTTP/2 names are lower-case; the match's is compared without case) and,
// when given, exact value.
func (st *h2stream) matches(m string) bool {
	if strings.HasPrefix(m, "/") {
		return strings.HasPrefix(st.path, m)
	}
	name, value, hasValue := strings.Cut(m, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	for _, f := range st.fields {
		if strings.EqualFold(f.Name, name) && (!hasValue || f.Value == value) {
			return true
		}
	}
	return false
}

// alpn is the protocol the TLS handshake agreed on ("" on plain TCP, or with no ALPN).
func (c *conn) alpn() string {
	if tc, ok := c.nc.(*tls.Conn); ok {
		return tc.ConnectionState().NegotiatedProtocol
	}
	return ""
}

// serveH2 serves an HTTP/2 connection whose preface is in c.br, until it ends.
func (c *conn) serveH2() {
	c.br.Discard(len(h2wire.Preface))
	h := &h2conn{conn: c, streams: map[uint32]*h2stream{}, window: h2wire.DefaultWindow, peer: h2wire.NewPeer(),
		enc: h2wire.NewEncoder()}
	h.bw = bufio.NewWriterSize(c.nc, 16<<10)
	h.fr = http2.NewFramer(h.bw, c.br)
	h.fr.SetReuseFrames() // each frame is acted on before the next is read
	h.hdr = h2wire.NewRequestHeaders(uint32(c.plan.cfg.Limits.MaxHeaderBytes))
	var settings []http2.Setting
	sel := selInput{rng: c.rng}
	for _, f := range c.plan.h2conn {
		if f.Sel().fires(&sel) {
			h.shaper = f
			settings = f.h2settings()
			break
		}
	}
	if h.fr.WriteSettings(settings...) != nil || h.flush() != nil {
		return
	}
	for {
		c.plan = c.srv.plan.Load()
		if len(h.streams) == 0 && h.goneAway {
			if time.Now().Before(h.closeAt) {
				h.refuseUntil(h.closeAt)
			}
			h.closeAs(CloseFIN)
			return
		}
		if len(h.streams) == 0 && !h.idle() {
			return
		}
		f, _, ok := h.readFrame(time.Time{})
		if !ok {
			return
		}
		if f == nil {
			continue // held answers went out: look again (the connection may be idle now)
		}
		if !h.handle(f) {
			return
		}
		if !h.frameBuffered() && h.flush() != nil { // answers to frames read together go out together
			return
		}
	}
}

// frameBuffered reports whether a whole frame is already in the read buffer (its answer can
// wait for the next one's). A partial one is not: its rest may wait on what we have to send.
func (h *h2conn) frameBuffered() bool {
	n := h.br.Buffered()
	if n < 9 {
		return false
	}
	b, _ := h.br.Peek(9)
	return n >= 9+(int(b[0])<<16|int(b[1])<<8|int(b[2]))
}

// readFrame reads the next frame, sending held answers as they come due meanwhile. f is nil
// (and ok true) when held answers went out instead, or — timedOut — when deadline (zero: none)
// passed first. ok is false when the connection is over.
func (h *h2conn) readFrame(deadline time.Time) (f http2.Frame, timedOut, ok bool) {
	wake := deadline
	for _, a := range h.held {
		if wake.IsZero() || a.at.Before(wake) {
			wake = a.at
		}
	}
	if !wake.IsZero() {
		arrived, tOut := h.awaitRequest(wake)
		switch {
		case !arrived && !tOut:
			return nil, false, false
		case tOut:
			if !h.fireHeld() {
				return nil, false, false
			}
			return nil, !deadline.IsZero() && !time.Now().Before(deadline), true
		}
	}
	h.setReadDeadline(time.Time{})
	for {
		fh, err := h.fr.ReadFrameHeader() // its size, and CONTINUATION right after its HEADERS
		if err == nil && fh.Type != http2.FrameHeaders && fh.Type != http2.FrameContinuation {
			f, err = h.fr.ReadFrameForHeader(fh)
		} else if err == nil {
			var mh *http2.MetaHeadersFrame
			if mh, err = h.hdr.Read(fh, h.br); mh == nil && err == nil {
				continue // the block goes on in a CONTINUATION
			}
			f = mh
		}
		if err != nil {
			h.readFailed(err)
			return nil, false, false
		}
		return f, false, true
	}
}

// hold keeps st's answer (or its next step) until at, when fire sends it.
func (h *h2conn) hold(st *h2stream, at time.Time, fire func(*h2conn, *h2stream) bool) {
	h.held = append(h.held, heldAnswer{at: at, id: st.id, st: st, fire: fire})
}

// fireHeld sends the held answers that are due (not those of streams the client reset
// meanwhile); false ends the connection.
func (h *h2conn) fireHeld() bool {
	now := time.Now()
	for i := 0; i < len(h.held); {
		a := h.held[i]
		if a.at.After(now) {
			i++
			continue
		}
		h.held = slices.Delete(h.held, i, i+1)
		if h.streams[a.id] == a.st && !a.fire(h, a.st) {
			return false
		}
	}
	return h.flush() == nil
}

// idle waits for the next frame while no stream is open, letting an idle fault own the wait
// when one is chosen; the server's own idle timeout sends GOAWAY and closes. It reports
// whether a frame has started to arrive.
func (h *h2conn) idle() bool {
	h.sel = selInput{nth: h.served, rng: h.rng}
	for _, f := range h.plan.h2idle {
		if f.Sel().fires(&h.sel) {
			h.acting = f
			return f.h2idle(h)
		}
	}
	var deadline time.Time
	if t := h.plan.cfg.Limits.IdleTimeout.D(); t > 0 {
		deadline = h.idleSince().Add(t)
	}
	arrived, timedOut := h.awaitRequest(deadline)
	if timedOut {
		h.goAway(http2.ErrCodeNo)
		h.closeAs(CloseFIN)
	}
	return arrived
}

// readFailed ends the connection after a frame could not be read: the peer left, or sent
// something that is not HTTP/2 (a connection error: GOAWAY PROTOCOL_ERROR, then close).
func (h *h2conn) readFailed(err error) {
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		h.srv.stats.badRequests.Add(1)
		h.goAway(http2.ErrCode(ce))
		h.closeAs(CloseFIN)
		return
	}
	h.peerGone(err)
}

// handle acts on one frame from the client; false ends the connection.
func (h *h2conn) handle(f http2.Frame) bool {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return true
		}
		delta, err := h.peer.Apply(f)
		if err != nil {
			h.srv.stats.badRequests.Add(1)
			code := http2.ErrCodeProtocol
			if ce, ok := errors.AsType[http2.ConnectionError](err); ok {
				code = http2.ErrCode(ce)
			}
			h.goAway(code)
			h.closeAs(CloseFIN)
			return false
		}
		for _, st := range h.streams {
			st.window += delta
		}
		// The client's decoder table: nginx's grpc module keeps none (it decodes each upstream
		// answer with a fresh table), so an answer naming an entry of ours would be a 502 no
		// fault injected.
		h.enc.SetPeerTable(h.peer.HeaderTable)
		if h.fr.WriteSettingsAck() != nil {
			return false
		}
		return h.sendPending()
	case *http2.MetaHeadersFrame:
		id := f.StreamID
		if id%2 == 0 || id <= h.maxID {
			h.srv.stats.badRequests.Add(1)
			h.goAway(http2.ErrCodeProtocol)
			h.closeAs(CloseFIN)
			return false
		}
		h.maxID = id
		h.opened++
		h.srv.stats.requestsStarted.Add(1)
		if h.goneAway && id > h.lastID { // above the GOAWAY: not processed, the client may retry it
			return h.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream) == nil
		}
		if h.shaper != nil {
			if refused, ok := h.shaper.h2opened(h, id); refused || !ok {
				return ok
			}
		}
		st := h.newStream(id, f)
		h.streams[id] = st
		if f.StreamEnded() {
			return h.requestEnded(st)
		}
	case *http2.DataFrame:
		st := h.streams[f.StreamID]
		n := f.Header().Length
		h.received += int64(n)
		if n > 0 && (h.shaper == nil || h.shaper.h2window(h, st, n)) { // give back what it took of both windows
			if h.fr.WriteWindowUpdate(0, n) != nil {
				return false
			}
			if st != nil && !f.StreamEnded() && h.fr.WriteWindowUpdate(f.StreamID, n) != nil {
				return false
			}
		}
		if st == nil || st.requestEnded {
			return h.fr.WriteRSTStream(f.StreamID, http2.ErrCodeStreamClosed) == nil
		}
		st.body += int64(len(f.Data()))
		if f.StreamEnded() {
			return h.requestEnded(st)
		}
	case *http2.WindowUpdateFrame:
		if f.StreamID == 0 {
			h.window += int64(f.Increment)
		} else if st := h.streams[f.StreamID]; st != nil {
			st.window += int64(f.Increment)
		}
		return h.sendPending()
	case *http2.PingFrame:
		if !f.IsAck() && (h.shaper == nil || h.shaper.h2ping(h)) {
			return h.fr.WritePing(true, f.Data) == nil
		}
	case *http2.RSTStreamFrame:
		if st := h.streams[f.StreamID]; st != nil {
			h.forget(st)
		}
	case *http2.GoAwayFrame:
		h.closeAs(CloseFIN) // the client is leaving; its open streams end with it
		return false
	}
	return true
}

// requestEnded answers a stream whose request has been read, or lets a stream fault act.
func (h *h2conn) requestEnded(st *h2stream) bool {
	st.requestEnded = true
	h.srv.stats.requestsRead.Add(1)
	h.nstream++
	h.sel = selInput{nth: h.nstream, reused: h.nstream > 1, rng: h.rng, h2: st}
	for _, f := range h.plan.h2stream {
		if c, ok := f.(conditional); ok && !c.applies(&h.sel) {
			continue
		}
		if f.Sel().fires(&h.sel) {
			h.acting = f
			keep := f.h2respond(h, st)
			h.acting = nil
			return keep
		}
	}
	r := h.plan.cfg.Response
	return h.respond(st, r.Status, h.plan.resp.payload)
}

// respond answers a stream: HEADERS with the status and content-length, then the body in DATA
// frames as the flow-control windows allow (END_STREAM on the last).
func (h *h2conn) respond(st *h2stream, status int, body []byte) bool {
	if h.writeHeaders(st, status, len(body), len(body) == 0) != nil {
		return false
	}
	if len(body) == 0 {
		h.streamDone(st)
		return true
	}
	st.pending = body
	return h.sendPending()
}

// writeHeaders sends a stream's response HEADERS.
func (h *h2conn) writeHeaders(st *h2stream, status, bodyLen int, end bool) error {
	if bodyLen != h.lenOf || h.lenText == "" {
		h.lenOf, h.lenText = bodyLen, strconv.Itoa(bodyLen)
	}
	block := h.enc.Encode(hpack.HeaderField{Name: ":status", Value: statusText(status)},
		hpack.HeaderField{Name: "content-length", Value: h.lenText},
		hpack.HeaderField{Name: "content-type", Value: "text/plain"})
	st.headersSent = true
	return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: block, EndHeaders: true,
		EndStream: end})
}

// sendPending sends what the windows allow of every stream's pending body.
func (h *h2conn) sendPending() bool {
	for _, st := range h.streams {
		for len(st.pending) > 0 && h.window > 0 && st.window > 0 {
			n := min(int64(len(st.pending)), h.window, st.window, int64(h.peer.MaxFrame))
			end := n == int64(len(st.pending)) && len(st.rest) == 0
			if h.fr.WriteData(st.id, end, st.pending[:n]) != nil {
				return false
			}
			h.window -= n
			st.window -= n
			st.pending = st.pending[n:]
			if end {
				h.streamDone(st)
			}
		}
	}
	return true
}

// streamDone counts a stream answered in full and forgets it.
func (h *h2conn) streamDone(st *h2stream) {
	st.responseEnded = true
	h.served++
	h.srv.stats.responses.Add(1)
	h.forget(st)
}

// newStream takes a stream done with (or a new one) for the stream id the block f opens.
func (h *h2conn) newStream(id uint32, f *http2.MetaHeadersFrame) *h2stream {
	var st *h2stream
	if n := len(h.free); n > 0 {
		st, h.free = h.free[n-1], h.free[:n-1]
		*st = h2stream{fields: st.fields[:0]}
	} else {
		st = &h2stream{}
	}
	st.id, st.window = id, h.peer.InitialWindow
	st.method, st.path = f.PseudoValue("method"), f.PseudoValue("path")
	st.fields = append(st.fields, f.RegularFields()...) // f's fields are the reader's, read again
	return st
}

// forget ends st's life on the connection: its answer is sent or it was reset. The stream is
// kept to be taken again; a held step of it no longer fires (h.streams[id] is not st).
func (h *h2conn) forget(st *h2stream) {
	delete(h.streams, st.id)
	if len(h.streams) == 0 {
		h.lastDone = time.Now()
	}
	if len(h.free) < maxFreeStreams {
		h.free = append(h.free, st)
	}
}

// maxFreeStreams bounds the streams a connection keeps to take again.
const maxFreeStreams = 128

// statusTexts are the status codes 100-599 as text, laid out once (strconv.Itoa allocates
// from 100 up).
var statusTexts = func() (t [500]string) {
	for i := range t {
		t[i] = strconv.Itoa(100 + i)
	}
	return t
}()

func statusText(code int) string {
	if code >= 100 && code < 600 {
		return statusTexts[code-100]
	}
	return strconv.Itoa(code)
}

// resetStream ends a stream with RST_STREAM and forgets it.
func (h *h2conn) resetStream(st *h2stream, code http2.ErrCode) error {
	h.forget(st)
	if err := h.fr.WriteRSTStream(st.id, code); err != nil {
		return err
	}
	return h.flush()
}

// goAway sends GOAWAY naming the last stream the server processed (the highest the client
// opened) and flushes it.
func (h *h2conn) goAway(code http2.ErrCode) error { return h.goAwayAt(h.maxID, code) }

// goAwayAt sends GOAWAY naming last as the last stream processed, and flushes it.
func (h *h2conn) goAwayAt(last uint32, code http2.ErrCode) error {
	h.goneAway, h.lastID = true, last
	if err := h.fr.WriteGoAway(last, code, nil); err != nil {
		return err
	}
	return h.flush()
}

func (h *h2conn) flush() error { return h.bw.Flush() }

// refuseUntil serves the time between a GOAWAY and the close as a graceful server does: the
// streams at or below the GOAWAY's last stream id go on (their bodies are read, they are
// answered), PING, SETTINGS and window updates are answered, and every stream the client
// opens above it is refused with RST_STREAM REFUSED_STREAM (handle does that once goneAway
// is set) — it was not processed, so the client may send it again elsewhere.
func (h *h2conn) refuseUntil(deadline time.Time) {
	for {
		f, timedOut, ok := h.readFrame(deadline)
		if !ok || timedOut {
			return
		}
		if f != nil && (!h.handle(f) || h.flush() != nil) {
			return
		}
	}
}
