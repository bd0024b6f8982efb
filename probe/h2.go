package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatecrash/gatecrash/internal/ctxwait"
	"github.com/gatecrash/gatecrash/internal/h2wire"
)

// HTTP/2 (OriginOptions.HTTP2): the same questions of an h2 origin — h2c with prior knowledge
// for http://, h2 by ALPN for https:// — answered from its frames: how long an h2 connection
// may sit with no stream open before the origin sends GOAWAY (and how long it lingers before
// the close, and whether the close comes without a GOAWAY at all), how many streams it serves
// on one connection before its GOAWAY (nginx's keepalive_requests), and what it announces in
// its SETTINGS (SETTINGS_MAX_CONCURRENT_STREAMS).

// H2Report is what probing an h2 origin found.
type H2Report struct {
	// MaxConcurrentStreams is the origin's SETTINGS_MAX_CONCURRENT_STREAMS (0 with
	// MaxStreamsSet false: not announced, no limit).
	MaxConcurrentStreams uint32 `json:"max_concurrent_streams,omitempty"`
	MaxStreamsSet        bool   `json:"max_streams_set"`
	// InitialWindow is its SETTINGS_INITIAL_WINDOW_SIZE (65535 when not announced).
	InitialWindow uint32 `json:"initial_window"`
	// Conns are the watched idle connections.
	Conns []H2IdleConn `json:"connections"`
	// IdleGoAway spreads the idle times after which the origin sent GOAWAY (or closed
	// without one); nil when it did neither within MaxWait.
	IdleGoAway *Spread `json:"idle_goaway,omitempty"`
	// StreamCap is the number of streams the origin answered on one connection before its
	// GOAWAY (0: none within CapChecked streams; CapChecked 0: not looked for).
	StreamCap  int `json:"stream_cap,omitempty"`
	CapChecked int `json:"cap_checked,omitempty"`
}

// H2IdleConn is one watched h2 connection: how long it sat with no stream open until the
// origin's GOAWAY (or its close without one), the GOAWAY's fields, and how long the origin
// went on after it before closing.
type H2IdleConn struct {
	Idle time.Duration `json:"idle_ns"`
	// End is "goaway" (then the close), "close without goaway", "never" (not within MaxWait)
	// or "error: ...".
	End        string        `json:"end"`
	LastStream uint32        `json:"last_stream,omitempty"`
	Code       string        `json:"code,omitempty"`
	Linger     time.Duration `json:"linger_ns,omitempty"` // GOAWAY to the close
	// Close is how the connection ended after the GOAWAY: "fin", "rst" or "open" (not within
	// MaxWait).
	Close string `json:"close,omitempty"`
}

// h2conn is the probe's own minimal HTTP/2 client connection: one stream at a time.
type h2conn struct {
	nc     net.Conn
	scheme string
	fr     *http2.Framer
	bw     *bufio.Writer
	next   uint32
	peer   h2wire.Peer // what the origin's SETTINGS said
}

func (t *target) dialH2(ctx context.Context) (*h2conn, error) {
	tt := *t
	if tt.tls != nil {
		cfg := tt.tls.Clone()
		cfg.NextProtos = []string{"h2"}
		tt.tls = cfg
	}
	c, err := tt.dial(ctx)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.nc.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol != "h2" {
		c.close()
		return nil, fmt.Errorf("%s did not agree to HTTP/2 by ALPN (it chose %q)", t.addr, tc.ConnectionState().NegotiatedProtocol)
	}
	h := &h2conn{nc: c.nc, scheme: t.u.Scheme, bw: bufio.NewWriter(c.nc), next: 1, peer: h2wire.NewPeer()}
	h.fr = http2.NewFramer(h.bw, bufio.NewReader(c.nc))
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := h2wire.StartClient(h.bw, h.fr, h2wire.DefaultWindow); err != nil {
		c.close()
		return nil, err
	}
	return h, nil
}

// get sends one GET for path and reads frames until its response has ended. The server's
// SETTINGS seen meanwhile are kept. A GOAWAY or RST_STREAM for it is an error.
func (h *h2conn) get(authority, path string) error {
	h.nc.SetDeadline(time.Now().Add(30 * time.Second))
	defer h.nc.SetDeadline(time.Time{})
	block := h2wire.Block(hpack.HeaderField{Name: ":method", Value: "GET"}, hpack.HeaderField{Name: ":scheme", Value: h.scheme},
		hpack.HeaderField{Name: ":authority", Value: authority}, hpack.HeaderField{Name: ":path", Value: path},
		hpack.HeaderField{Name: "user-agent", Value: "gatecrash-probe"})
	id := h.next
	h.next += 2
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true,
		EndStream: true}); err != nil {
		return err
	}
	if err := h.bw.Flush(); err != nil {
		return err
	}
	for {
		f, err := h.readFrame()
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == id && f.StreamEnded() {
				return nil
			}
		case *http2.DataFrame:
			if f.StreamID == id && f.StreamEnded() {
				return nil
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return fmt.Errorf("stream reset: %v", f.ErrCode)
			}
		case *http2.GoAwayFrame:
			if f.LastStreamID < id {
				return &goAwayError{f.LastStreamID, f.ErrCode}
			}
		}
	}
}

type goAwayError struct {
	last uint32
	code http2.ErrCode
}

func (e *goAwayError) Error() string {
	return fmt.Sprintf("GOAWAY (last stream %d, %v)", e.last, e.code)
}

// readFrame reads the next frame, answering SETTINGS (kept) and PING, and giving back what
// DATA took of the windows.
func (h *h2conn) readFrame() (http2.Frame, error) {
	f, err := h.fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if !f.IsAck() {
			if _, err := h.peer.Apply(f); err != nil {
				return nil, fmt.Errorf("the origin's SETTINGS: %w", err)
			}
			h.fr.WriteSettingsAck()
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			h.fr.WritePing(true, f.Data)
		}
	case *http2.DataFrame:
		if n := f.Header().Length; n > 0 {
			h.fr.WriteWindowUpdate(0, n)
			h.fr.WriteWindowUpdate(f.StreamID, n)
		}
	default:
		return f, nil
	}
	return f, h.bw.Flush()
}

// watchIdleH2 sends one stream on a new connection and waits, the connection idle, for the
// origin's GOAWAY and close.
func watchIdleH2(ctx context.Context, t *target, maxWait time.Duration) (H2IdleConn, map[http2.SettingID]uint32) {
	h, err := t.dialH2(ctx)
	if err != nil {
		return H2IdleConn{End: "error: " + err.Error()}, nil
	}
	defer h.nc.Close()
	if err := h.get(t.u.Host, t.u.RequestURI()); err != nil {
		return H2IdleConn{End: "error: first stream: " + err.Error()}, h.peer.Said
	}
	idleSince := time.Now()
	deadline := idleSince.Add(maxWait)
	stop := context.AfterFunc(ctx, func() { h.nc.SetDeadline(time.Now()) })
	defer stop()
	var ic H2IdleConn
	var goAwayAt time.Time
	for {
		h.nc.SetDeadline(deadline)
		f, err := h.readFrame()
		switch {
		case err == nil:
			if ga, ok := f.(*http2.GoAwayFrame); ok && goAwayAt.IsZero() {
				goAwayAt = time.Now()
				ic.End, ic.Idle, ic.LastStream, ic.Code = "goaway", goAwayAt.Sub(idleSince), ga.LastStreamID, ga.ErrCode.String()
			}
			continue
		case isTimeout(err) && goAwayAt.IsZero():
			return H2IdleConn{End: "never"}, h.peer.Said
		case isTimeout(err):
			ic.Close = "open"
			return ic, h.peer.Said
		}
		style := "fin"
		if errors.Is(err, syscall.ECONNRESET) {
			style = "rst"
		}
		if goAwayAt.IsZero() {
			return H2IdleConn{End: "close without goaway", Idle: time.Since(idleSince), Close: style}, h.peer.Said
		}
		ic.Linger, ic.Close = time.Since(goAwayAt), style
		return ic, h.peer.Said
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// streamCapH2 sends streams one after another on one connection until the origin's GOAWAY
// (or the close), up to max: how many it answered.
func streamCapH2(ctx context.Context, t *target, max int) (int, error) {
	h, err := t.dialH2(ctx)
	if err != nil {
		return 0, err
	}
	defer h.nc.Close()
	for n := 0; n < max; n++ {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := h.get(t.u.Host, t.u.RequestURI()); err != nil {
			return n, nil
		}
	}
	return 0, nil
}

// originH2 fills rep.H2 for an h2 origin.
func originH2(ctx context.Context, o OriginOptions, t *target, rep *OriginReport) error {
	h := &H2Report{InitialWindow: 65535}
	rep.H2 = h
	fmt.Fprintf(o.Log, "watching %d idle HTTP/2 connections (up to %v)...\n", o.Connections, o.MaxWait)
	h.Conns = make([]H2IdleConn, o.Connections)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range o.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !ctxwait.Sleep(ctx, time.Duration(i)*o.Stagger) {
				return
			}
			ic, settings := watchIdleH2(ctx, t, o.MaxWait)
			mu.Lock()
			defer mu.Unlock()
			h.Conns[i] = ic
			if v, ok := settings[http2.SettingMaxConcurrentStreams]; ok {
				h.MaxConcurrentStreams, h.MaxStreamsSet = v, true
			}
			if v, ok := settings[http2.SettingInitialWindowSize]; ok {
				h.InitialWindow = v
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var idles []time.Duration
	for _, ic := range h.Conns {
		if ic.End == "goaway" || ic.End == "close without goaway" {
			idles = append(idles, ic.Idle)
		}
	}
	h.IdleGoAway = spreadOf(idles)
	if o.MaxRequests > 0 {
		fmt.Fprintf(o.Log, "looking for a stream cap (up to %d streams on one connection)...\n", o.MaxRequests)
		h.CapChecked = o.MaxRequests
		n, err := streamCapH2(ctx, t, o.MaxRequests)
		if err != nil {
			return err
		}
		h.StreamCap = n
	}
	return nil
}

// writeText prints the HTTP/2 part of the report.
func (h *H2Report) writeText(w io.Writer) {
	if h.MaxStreamsSet {
		fmt.Fprintf(w, "max streams     %d at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS)\n", h.MaxConcurrentStreams)
	} else {
		fmt.Fprintf(w, "max streams     not announced (no limit)\n")
	}
	if h.IdleGoAway == nil {
		fmt.Fprintf(w, "idle GOAWAY     none within the wait\n")
	} else {
		fmt.Fprintf(w, "idle GOAWAY     %s\n", h.IdleGoAway)
	}
	for i, c := range h.Conns {
		switch c.End {
		case "goaway":
			after := "still open"
			if c.Close != "open" {
				after = fmt.Sprintf("%s after %s more", strings.ToUpper(c.Close), secs(c.Linger))
			}
			fmt.Fprintf(w, "  connection %d  GOAWAY (last stream %d, %s) after %s idle, then %s\n", i+1, c.LastStream, c.Code,
				secs(c.Idle), after)
		case "close without goaway":
			fmt.Fprintf(w, "  connection %d  closed without GOAWAY after %s idle, %s\n", i+1, secs(c.Idle), strings.ToUpper(c.Close))
		default:
			fmt.Fprintf(w, "  connection %d  %s\n", i+1, c.End)
		}
	}
	switch {
	case h.CapChecked == 0:
	case h.StreamCap == 0:
		fmt.Fprintf(w, "stream cap      none within %d streams\n", h.CapChecked)
	default:
		fmt.Fprintf(w, "stream cap      GOAWAY after %d streams on a connection\n", h.StreamCap)
	}
}

// verdictH2 is the verdict for an h2 origin.
func (h *H2Report) verdict(who string) string {
	if h.IdleGoAway == nil {
		return who + " kept idle HTTP/2 connections open for all of --max-wait: no idle GOAWAY seen"
	}
	v := fmt.Sprintf("%s ends HTTP/2 connections idle for %s with GOAWAY and a close: a proxy pooling h2 connections "+
		"to it must drop idle ones sooner, e.g. after %s", who, h.IdleGoAway, secs(SafeBelow(h.IdleGoAway.Min)))
	if h.StreamCap > 0 {
		v += fmt.Sprintf("; it also ends each connection after %d streams (a proxy must send the streams above the "+
			"GOAWAY's last stream id again)", h.StreamCap)
	}
	return v
}
