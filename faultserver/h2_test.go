package faultserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatecrash/gatecrash/internal/h2wire"
)

// h2Config is cfg with HTTP/2 on.
func h2Config(cfg *Config) *Config {
	cfg.HTTP2 = true
	return cfg
}

// h2cClient is Go's HTTP/2 client speaking h2c with prior knowledge, never retrying on its
// own initiative beyond what http2.Transport does.
func h2cClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}}
}

// The fault server with http2 on answers h2c streams — GETs and POSTs with bodies, many at
// once on one connection — with the configured response, and HTTP/1.1 on the same port as
// before; the counters count streams as requests.
func TestH2cServes(t *testing.T) {
	t.Parallel()
	cfg := h2Config(DefaultConfig())
	cfg.Response.BodySize = 100_000 // more than the initial window: flow control must work
	s, addr := startServer(t, cfg)
	cl := h2cClient()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body io.Reader
			method := http.MethodGet
			if i%2 == 1 {
				method, body = http.MethodPost, bytes.NewReader(make([]byte, 70_000))
			}
			req, _ := http.NewRequest(method, "http://"+addr+"/", body)
			resp, err := cl.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != 200 || !bytes.Equal(b, Payload(100_000)) {
				errs <- fmt.Errorf("%s %s: %v", resp.Proto, resp.Status, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := waitStats(t, s, "20 responses", func(st Stats) bool { return st.ResponsesCompleted == 20 })
	if st.ConnectionsAccepted != 1 || st.RequestsStarted != 20 || st.RequestsRead != 20 {
		t.Errorf("stats: %d connections, %d requests started, %d read; want 1, 20, 20", st.ConnectionsAccepted,
			st.RequestsStarted, st.RequestsRead)
	}
	// HTTP/1.1 on the same port, untouched.
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	if got, _ := readUntilEnd(t, c, 2*time.Second); !bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK\r\n")) {
		t.Errorf("HTTP/1.1 beside h2: %q", got)
	}
}

// Over TLS the server offers h2 by ALPN beside http/1.1: an h2 client gets HTTP/2 (and the
// h2 faults), an HTTP/1.1-only client HTTP/1.1; with http2 off, no h2 is offered.
func TestH2OverTLSByALPN(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		cfg := DefaultConfig() // an h2 kind needs http2 on
		if on {
			cfg = h2Config(withFaults(t, "rst-stream:nth=2"))
		}
		_, _, tlsAddr := startServerTLS(t, cfg, true)
		insecure := &tls.Config{InsecureSkipVerify: true}
		h2 := &http.Client{Timeout: 5 * time.Second, Transport: &http2.Transport{TLSClientConfig: insecure}}
		resp, err := h2.Get("https://" + tlsAddr + "/")
		if !on {
			if err == nil {
				resp.Body.Close()
				t.Error("http2 off: an h2-only client got an answer; the server offered h2")
			}
			continue
		}
		if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("h2 over TLS: %v %v", resp, err)
		}
		resp.Body.Close()
		if _, err := h2.Get("https://" + tlsAddr + "/"); err == nil || !strings.Contains(err.Error(), "INTERNAL_ERROR") {
			t.Errorf("the 2nd stream over TLS: %v, want rst-stream's INTERNAL_ERROR", err)
		}
		h1 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: insecure}}
		resp, err = h1.Get("https://" + tlsAddr + "/")
		if err != nil || resp.ProtoMajor != 1 || resp.StatusCode != 200 {
			t.Fatalf("HTTP/1.1 over TLS beside h2: %v %v", resp, err)
		}
		resp.Body.Close()
	}
}

// h2Raw is a client that speaks frames, to see exactly what the server sends.
type h2Raw struct {
	t    *testing.T
	nc   net.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	henc *hpack.Encoder
}

func dialH2(t *testing.T, addr string) *h2Raw {
	t.Helper()
	nc := dial(t, addr)
	if _, err := nc.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	c := &h2Raw{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c
}

// get opens stream id with a GET, END_STREAM on its HEADERS.
func (c *h2Raw) get(id uint32) { c.t.Helper(); c.getWith(id, "/") }

// getWith opens stream id with a GET of path and the extra header fields (name, value, ...).
func (c *h2Raw) getWith(id uint32, path string, extra ...string) {
	c.t.Helper()
	c.hbuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "t"}, {":path", path}} {
		c.henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for i := 0; i+1 < len(extra); i += 2 {
		c.henc.WriteField(hpack.HeaderField{Name: extra[i], Value: extra[i+1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true,
		EndStream: true}); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next frame that is not SETTINGS, WINDOW_UPDATE or PING, within d.
func (c *h2Raw) next(d time.Duration) (http2.Frame, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
			continue
		case *http2.WindowUpdateFrame, *http2.PingFrame:
			continue
		}
		return f, nil
	}
}

// answer reads stream id's response: HEADERS with :status, then DATA to END_STREAM.
func (c *h2Raw) answer(id uint32) (status string, body []byte) {
	c.t.Helper()
	for {
		f, err := c.next(2 * time.Second)
		if err != nil {
			c.t.Fatalf("stream %d: %v", id, err)
		}
		if f.Header().StreamID != id {
			c.t.Fatalf("stream %d: a frame of stream %d: %v", id, f.Header().StreamID, f)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			status = f.PseudoValue("status")
			if f.StreamEnded() {
				return status, body
			}
		case *http2.DataFrame:
			body = append(body, f.Data()...)
			if f.StreamEnded() {
				return status, body
			}
		default:
			c.t.Fatalf("stream %d: %v", id, f)
		}
	}
}

// goaway-idle: once the connection has had no stream open for the timeout, the server sends
// GOAWAY NO_ERROR naming the last stream it processed, then closes — at the timeout, counted
// from the end of the last answer, not before; the fault is counted once.
func TestH2GoAwayIdle(t *testing.T) {
	t.Parallel()
	const timeout = 150 * time.Millisecond
	s, addr := startServer(t, h2Config(withFaults(t, "goaway-idle:timeout=150ms")))
	c := dialH2(t, addr)
	for _, id := range []uint32{1, 3} {
		c.get(id)
		if status, body := c.answer(id); status != "200" || string(body) != string(Payload(DefaultConfig().Response.BodySize)) {
			t.Fatalf("stream %d: %s %q", id, status, body)
		}
	}
	answered := time.Now()
	f, err := c.next(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Since(answered)
	ga, ok := f.(*http2.GoAwayFrame)
	if !ok || ga.LastStreamID != 3 || ga.ErrCode != http2.ErrCodeNo {
		t.Fatalf("want GOAWAY last stream 3 NO_ERROR, got %v", f)
	}
	if after < timeout-5*time.Millisecond || after > timeout+100*time.Millisecond {
		t.Errorf("GOAWAY %v after the last answer; the timeout is %v", after, timeout)
	}
	if _, err := c.next(time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("after GOAWAY: %v, want the close (EOF)", err)
	}
	st := waitStats(t, s, "goaway-idle counted", func(st Stats) bool { return st.Faults["goaway-idle"] == 1 })
	if st.ResponsesCompleted != 2 || st.Closes.ServerFIN != 1 {
		t.Errorf("stats: %d responses, FIN %d; want 2 and 1", st.ResponsesCompleted, st.Closes.ServerFIN)
	}
}

// goaway-idle with close-after: between the GOAWAY and the close the server refuses a stream
// the client opens (RST_STREAM REFUSED_STREAM: not processed, safe to retry) and still
// answers a PING.
func TestH2GoAwayIdleCloseAfter(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, h2Config(withFaults(t, "goaway-idle:timeout=50ms,close-after=300ms")))
	c := dialH2(t, addr)
	c.get(1)
	c.answer(1)
	f, err := c.next(2 * time.Second)
	if ga, ok := f.(*http2.GoAwayFrame); err != nil || !ok || ga.LastStreamID != 1 {
		t.Fatalf("want GOAWAY last stream 1: %v %v", f, err)
	}
	c.get(3) // crossed the GOAWAY
	f, err = c.next(time.Second)
	if rst, ok := f.(*http2.RSTStreamFrame); err != nil || !ok || rst.StreamID != 3 || rst.ErrCode != http2.ErrCodeRefusedStream {
		t.Fatalf("a stream after GOAWAY: %v %v, want RST_STREAM 3 REFUSED_STREAM", f, err)
	}
	if _, err := c.next(time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("after close-after: %v, want the close (EOF)", err)
	}
}

// rst-stream resets the chosen streams — before the response HEADERS, or after them — and
// the connection and the other streams go on; each reset is counted as a fault that failed
// its request.
func TestH2RSTStream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec       string
		code       http2.ErrCode
		headersToo bool
	}{
		{"rst-stream:every=2", http2.ErrCodeInternal, false},
		{"rst-stream:every=2,code=refused-stream,after=headers", http2.ErrCodeRefusedStream, true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, h2Config(withFaults(t, tc.spec)))
			c := dialH2(t, addr)
			for _, id := range []uint32{1, 3, 5, 7} {
				c.get(id)
				if id%4 == 1 { // streams 1 and 5: the 1st and 3rd, answered
					if status, _ := c.answer(id); status != "200" {
						t.Fatalf("stream %d: %s", id, status)
					}
					continue
				}
				f, err := c.next(2 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if tc.headersToo {
					if h, ok := f.(*http2.MetaHeadersFrame); !ok || h.PseudoValue("status") != "200" || h.StreamEnded() {
						t.Fatalf("stream %d: want the response HEADERS first, got %v", id, f)
					}
					if f, err = c.next(2 * time.Second); err != nil {
						t.Fatal(err)
					}
				}
				if rst, ok := f.(*http2.RSTStreamFrame); !ok || rst.StreamID != id || rst.ErrCode != tc.code {
					t.Fatalf("stream %d: want RST_STREAM %v, got %v", id, tc.code, f)
				}
			}
			st := waitStats(t, s, "2 resets", func(st Stats) bool { return st.Faults["rst-stream"] == 2 })
			if st.ResponsesCompleted != 2 || *st.RequestFaultsInjected != 2 {
				t.Errorf("stats: %d responses, %d request faults; want 2 and 2", st.ResponsesCompleted, *st.RequestFaultsInjected)
			}
		})
	}
}

// close-no-goaway ends the connection when the chosen stream's request has been read: no
// GOAWAY, no answer — the client sees the connection end with the stream open; the streams
// before it were answered. Counted as a fault that failed its request.
func TestH2CloseNoGoAway(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"fin", "rst"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, h2Config(withFaults(t, "close-no-goaway:nth=2,close="+mode)))
			c := dialH2(t, addr)
			c.get(1)
			if status, _ := c.answer(1); status != "200" {
				t.Fatalf("stream 1: %s", status)
			}
			c.get(3)
			f, err := c.next(2 * time.Second)
			switch {
			case f != nil:
				t.Fatalf("stream 3: got %v, want the connection to end with no frame", f)
			case mode == "fin" && !errors.Is(err, io.EOF):
				t.Fatalf("close=fin: %v, want EOF", err)
			case mode == "rst" && ending(err) != "RST":
				t.Fatalf("close=rst: %v, want a reset", err)
			}
			st := waitStats(t, s, "the close counted", func(st Stats) bool { return st.Faults["close-no-goaway"] == 1 })
			if st.ResponsesCompleted != 1 || *st.RequestFaultsInjected != 1 {
				t.Errorf("stats: %d responses, %d request faults; want 1 and 1", st.ResponsesCompleted, *st.RequestFaultsInjected)
			}
		})
	}
}

// goaway-after answers the connection's Nth stream, then GOAWAY naming it (or, last=low, the
// one before: the spec broken) and closes once nothing is open; with close-after, a stream
// opened after the GOAWAY is first refused unprocessed. Counted, but not as a failed request.
func TestH2GoAwayAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec   string
		want   uint32
		refuse bool
	}{
		{"goaway-after:streams=2", 3, false},
		{"goaway-after:streams=2,last=low", 1, false},
		{"goaway-after:streams=2,close-after=300ms", 3, true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, h2Config(withFaults(t, tc.spec)))
			c := dialH2(t, addr)
			for _, id := range []uint32{1, 3} {
				c.get(id)
				if status, _ := c.answer(id); status != "200" {
					t.Fatalf("stream %d: %s", id, status)
				}
			}
			f, err := c.next(2 * time.Second)
			if ga, ok := f.(*http2.GoAwayFrame); err != nil || !ok || ga.LastStreamID != tc.want || ga.ErrCode != http2.ErrCodeNo {
				t.Fatalf("after the 2nd stream: %v %v, want GOAWAY last stream %d NO_ERROR", f, err, tc.want)
			}
			if tc.refuse {
				c.get(5)
				f, err = c.next(2 * time.Second)
				if rst, ok := f.(*http2.RSTStreamFrame); err != nil || !ok || rst.StreamID != 5 || rst.ErrCode != http2.ErrCodeRefusedStream {
					t.Fatalf("a stream after the GOAWAY: %v %v, want RST_STREAM 5 REFUSED_STREAM", f, err)
				}
			}
			if _, err := c.next(2 * time.Second); !errors.Is(err, io.EOF) {
				t.Errorf("with nothing open after the GOAWAY: %v, want the close (EOF)", err)
			}
			st := waitStats(t, s, "goaway-after counted", func(st Stats) bool { return st.Faults["goaway-after"] == 1 })
			if st.ResponsesCompleted != 2 || *st.RequestFaultsInjected != 0 {
				t.Errorf("stats: %d responses, %d request faults; want 2 and 0", st.ResponsesCompleted, *st.RequestFaultsInjected)
			}
		})
	}
}

// During goaway-after's close-after, a stream at or below the GOAWAY's last stream id goes
// on: its body, arriving after the GOAWAY, is read and the stream answered (a graceful
// server finishes what it promised); one above it is refused; then the close.
func TestH2GoAwayAfterFinishesPromisedStreams(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, h2Config(withFaults(t, "goaway-after:streams=1,close-after=300ms")))
	c := dialH2(t, addr)
	c.hbuf.Reset()
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", "t"}, {":path", "/"}} {
		c.henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.hbuf.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	c.get(3) // the first stream whose request ends: answered, then GOAWAY naming 3
	if status, _ := c.answer(3); status != "200" {
		t.Fatalf("stream 3: %s", status)
	}
	f, err := c.next(2 * time.Second)
	if ga, ok := f.(*http2.GoAwayFrame); err != nil || !ok || ga.LastStreamID != 3 {
		t.Fatalf("after stream 3: %v %v, want GOAWAY last stream 3", f, err)
	}
	if err := c.fr.WriteData(1, true, []byte("body")); err != nil {
		t.Fatal(err)
	}
	if status, _ := c.answer(1); status != "200" {
		t.Fatalf("stream 1 (below the GOAWAY, body after it): %s, want 200", status)
	}
	c.get(5)
	f, err = c.next(2 * time.Second)
	if rst, ok := f.(*http2.RSTStreamFrame); err != nil || !ok || rst.StreamID != 5 || rst.ErrCode != http2.ErrCodeRefusedStream {
		t.Fatalf("stream 5 (above the GOAWAY): %v %v, want RST_STREAM REFUSED_STREAM", f, err)
	}
	if _, err := c.next(2 * time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("after close-after: %v, want the close (EOF)", err)
	}
}

// Go's own client sees rst-stream's INTERNAL_ERROR as a stream error on that request only.
func TestH2RSTStreamGoClient(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, h2Config(withFaults(t, "rst-stream:nth=2")))
	cl := h2cClient()
	for i := 1; i <= 3; i++ {
		resp, err := cl.Get("http://" + addr + "/")
		if i == 2 {
			if err == nil || !strings.Contains(err.Error(), "INTERNAL_ERROR") {
				t.Errorf("the 2nd stream: %v, want a stream error INTERNAL_ERROR", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		resp.Body.Close()
	}
}

// h2 kinds are HTTP/2's: a request header on HTTP/1.1 cannot choose one.
func TestH2KindsRefusedOnHTTP1Header(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, h2Config(DefaultConfig()))
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: rst-stream\r\nConnection: close\r\n\r\n")
	got, _ := readUntilEnd(t, c, 2*time.Second)
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 400 ")) || !bytes.Contains(got, []byte("rst-stream acts on HTTP/2 connections")) {
		t.Errorf("got %q", got)
	}
}

// An HTTP/2 fault says which selectors it reads.
func TestH2KindsRefuseMatch(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		"max-streams:match=/api":           "max-streams: match is not supported",
		"goaway-idle:match=/api":           "goaway-idle: match is not supported",
		"rst-stream:code=boom":             `rst-stream: code: "boom" is not allowed; allowed: cancel, internal-error, refused-stream`,
		"rst-stream:after=body":            `rst-stream: after: "body" is not allowed`,
		"goaway-idle:timeout=1s,jitter=2s": "goaway-idle: jitter 2s is larger than timeout 1s",
	} {
		f, err := ParseFaultSpec(spec)
		if err == nil {
			err = validateFault(f)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", spec, err, want)
		}
	}
}

// With http2 off (the default) the preface is an HTTP/1.1 request the server cannot parse.
func TestH2OffByDefault(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, DefaultConfig())
	c := dial(t, addr)
	send(t, c, http2.ClientPreface)
	got, _ := readUntilEnd(t, c, 2*time.Second)
	if bytes.Contains(got, []byte{0, 0}) || !bytes.HasPrefix(got, []byte("HTTP/1.1 ")) {
		t.Errorf("http2 off, the preface got %q", got)
	}
}

// openPost opens stream id with a POST whose body is still to come (no END_STREAM).
func (c *h2Raw) openPost(id uint32) {
	c.t.Helper()
	c.hbuf.Reset()
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", "t"}, {":path", "/"}} {
		c.henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

// settings reads frames until the server's next (non-ACK) SETTINGS and returns its values.
func (c *h2Raw) settings() map[http2.SettingID]uint32 {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.t.Fatalf("waiting for SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			m := map[http2.SettingID]uint32{}
			sf.ForeachSetting(func(s http2.Setting) error { m[s.ID] = s.Val; return nil })
			c.fr.WriteSettingsAck()
			return m
		}
	}
}

// delay on h2 holds only the chosen stream's answer: a stream opened after it is answered
// first, and the held one comes at the head-delay, not before; counted once.
func TestH2DelayHoldsOneStream(t *testing.T) {
	t.Parallel()
	const d = 200 * time.Millisecond
	s, addr := startServer(t, h2Config(withFaults(t, "delay:head-delay=200ms,nth=1")))
	c := dialH2(t, addr)
	start := time.Now()
	c.get(1)
	c.get(3)
	if status, _ := c.answer(3); status != "200" || time.Since(start) > d/2 {
		t.Fatalf("stream 3 (not delayed): %s after %v, want 200 at once", status, time.Since(start))
	}
	if status, body := c.answer(1); status != "200" || string(body) != string(Payload(DefaultConfig().Response.BodySize)) {
		t.Fatalf("stream 1: %s %q", status, body)
	}
	if took := time.Since(start); took < d || took > d+150*time.Millisecond {
		t.Errorf("stream 1 answered after %v; head-delay %v", took, d)
	}
	st := waitStats(t, s, "delay counted", func(st Stats) bool { return st.Faults["delay"] == 1 })
	if st.ResponsesCompleted != 2 {
		t.Errorf("%d responses, want 2", st.ResponsesCompleted)
	}
}

// delay's body-rate on h2: HEADERS at once, the body in slices over time, END_STREAM only on
// the last, all of it.
func TestH2DelayDripsBody(t *testing.T) {
	t.Parallel()
	cfg := h2Config(withFaults(t, "delay:body-rate=200"))
	cfg.Response.BodySize = 40 // 10 bytes every 50 ms
	_, addr := startServer(t, cfg)
	c := dialH2(t, addr)
	start := time.Now()
	c.get(1)
	var body []byte
	frames := 0
	for {
		f, err := c.next(2 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if df, ok := f.(*http2.DataFrame); ok {
			body = append(body, df.Data()...)
			frames++
			if df.StreamEnded() {
				break
			}
		}
	}
	if string(body) != string(Payload(40)) || frames < 4 {
		t.Errorf("body %q in %d DATA frames, want the 40-byte payload in 4 or more", body, frames)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("40 bytes at 200/s took %v, want about 200ms", took)
	}
}

// status on h2 answers the chosen stream with its code and body; the others are normal.
func TestH2Status(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, h2Config(withFaults(t, "status:code=503,nth=2")))
	c := dialH2(t, addr)
	for _, tc := range []struct {
		id   uint32
		want string
	}{{1, "200"}, {3, "503"}} {
		id, want := tc.id, tc.want
		c.get(id)
		status, body := c.answer(id)
		if status != want || want == "503" && string(body) != "gatecrash status fault: 503\n" {
			t.Errorf("stream %d: %s %q, want %s", id, status, body, want)
		}
	}
	waitStats(t, s, "status counted", func(st Stats) bool { return st.Faults["status"] == 1 })
}

// max-streams: the limit is in the server's first SETTINGS; a stream opened past it is refused
// (REFUSED_STREAM) and counted; once a stream ends there is room again. With lower-after the
// first SETTINGS has no limit, and the one lowering it comes as the Nth stream opens, which
// is refused at once when over it.
func TestH2MaxStreams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec  string
		first bool // the limit in the first SETTINGS
	}{
		{"max-streams:streams=1", true},
		{"max-streams:streams=1,lower-after=2", false},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, h2Config(withFaults(t, tc.spec)))
			c := dialH2(t, addr)
			if v, ok := c.settings()[http2.SettingMaxConcurrentStreams]; ok != tc.first || ok && v != 1 {
				t.Fatalf("first SETTINGS: MAX_CONCURRENT_STREAMS %d (set %v), want set %v to 1", v, ok, tc.first)
			}
			c.openPost(1) // stays open: its body is still to come
			c.get(3)
			if !tc.first {
				if v, ok := c.settings()[http2.SettingMaxConcurrentStreams]; !ok || v != 1 {
					t.Fatalf("SETTINGS as the 2nd stream opened: %d (set %v), want 1", v, ok)
				}
			}
			f, err := c.next(2 * time.Second)
			if rst, ok := f.(*http2.RSTStreamFrame); err != nil || !ok || rst.StreamID != 3 || rst.ErrCode != http2.ErrCodeRefusedStream {
				t.Fatalf("stream 3 past the limit: %v %v, want RST_STREAM REFUSED_STREAM", f, err)
			}
			if err := c.fr.WriteData(1, true, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if status, _ := c.answer(1); status != "200" {
				t.Fatalf("stream 1: %s", status)
			}
			c.get(5)
			if status, _ := c.answer(5); status != "200" {
				t.Fatalf("stream 5, with room again: %s", status)
			}
			st := waitStats(t, s, "max-streams counted", func(st Stats) bool { return st.Faults["max-streams"] == 1 })
			if st.ResponsesCompleted != 2 {
				t.Errorf("%d responses, want 2", st.ResponsesCompleted)
			}
		})
	}
}

// goaway-race: as the connection's 2nd stream opens, GOAWAY naming the 1st as the last
// processed; the 2nd is never answered (the client may send it again), a 3rd is refused, and
// the close comes after close-after; counted once.
func TestH2GoAwayRace(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, h2Config(withFaults(t, "goaway-race:stream=2,close-after=150ms")))
	c := dialH2(t, addr)
	c.get(1)
	if status, _ := c.answer(1); status != "200" {
		t.Fatalf("stream 1: %s", status)
	}
	start := time.Now()
	c.get(3)
	f, err := c.next(2 * time.Second)
	if ga, ok := f.(*http2.GoAwayFrame); err != nil || !ok || ga.LastStreamID != 1 || ga.ErrCode != http2.ErrCodeNo {
		t.Fatalf("as stream 3 opened: %v %v, want GOAWAY last stream 1 NO_ERROR", f, err)
	}
	c.get(5)
	f, err = c.next(2 * time.Second)
	if rst, ok := f.(*http2.RSTStreamFrame); err != nil || !ok || rst.StreamID != 5 || rst.ErrCode != http2.ErrCodeRefusedStream {
		t.Fatalf("stream 5 after the GOAWAY: %v %v, want RST_STREAM 5 REFUSED_STREAM (and nothing for stream 3)", f, err)
	}
	if _, err := c.next(2 * time.Second); !errors.Is(err, io.EOF) || time.Since(start) < 140*time.Millisecond {
		t.Errorf("after close-after: %v at %v, want the close (EOF) at 150ms", err, time.Since(start))
	}
	st := waitStats(t, s, "goaway-race counted", func(st Stats) bool { return st.Faults["goaway-race"] == 1 })
	if st.ResponsesCompleted != 1 {
		t.Errorf("%d responses, want 1", st.ResponsesCompleted)
	}
}

// frames reads every frame (none skipped) for d and returns them.
func (c *h2Raw) frames(d time.Duration) []http2.Frame {
	c.t.Helper()
	var out []http2.Frame
	c.nc.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return out
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			out = append(out, &http2.PingFrame{FrameHeader: f.FrameHeader, Data: f.Data})
			continue
		case *http2.WindowUpdateFrame:
			out = append(out, &http2.WindowUpdateFrame{FrameHeader: f.FrameHeader, Increment: f.Increment})
			continue
		case *http2.MetaHeadersFrame:
			out = append(out, &http2.MetaHeadersFrame{HeadersFrame: &http2.HeadersFrame{FrameHeader: f.FrameHeader}})
			continue
		}
	}
}

// ping-silence: on a chosen connection the server answers streams but never a PING; counted
// once. Without it the PING is answered (the same check can fail).
func TestH2PingSilence(t *testing.T) {
	t.Parallel()
	for _, silent := range []bool{false, true} {
		cfg := h2Config(DefaultConfig())
		if silent {
			cfg = h2Config(withFaults(t, "ping-silence"))
		}
		s, addr := startServer(t, cfg)
		c := dialH2(t, addr)
		c.fr.WritePing(false, [8]byte{1, 2, 3})
		c.get(1)
		c.fr.WritePing(false, [8]byte{4, 5, 6})
		acks, answered := 0, false
		for _, f := range c.frames(300 * time.Millisecond) {
			switch f := f.(type) {
			case *http2.PingFrame:
				if f.IsAck() {
					acks++
				}
			case *http2.MetaHeadersFrame:
				answered = answered || f.StreamID == 1
			}
		}
		if !answered || silent && acks != 0 || !silent && acks != 2 {
			t.Errorf("ping-silence %v: stream answered %v, %d PING ACKs", silent, answered, acks)
		}
		if silent {
			waitStats(t, s, "ping-silence counted once", func(st Stats) bool { return st.Faults["ping-silence"] == 1 })
		}
	}
}

// window-stall: the stream window advertised in the first SETTINGS, and no WINDOW_UPDATE for
// the request body that uses it up; counted once. Without it the server gives the bytes back.
func TestH2WindowStall(t *testing.T) {
	t.Parallel()
	for _, stall := range []bool{false, true} {
		cfg := h2Config(DefaultConfig())
		if stall {
			cfg = h2Config(withFaults(t, "window-stall:window=1000"))
		}
		s, addr := startServer(t, cfg)
		c := dialH2(t, addr)
		if v, ok := c.settings()[http2.SettingInitialWindowSize]; ok != stall || stall && v != 1000 {
			t.Fatalf("window-stall %v: first SETTINGS INITIAL_WINDOW_SIZE %d (set %v)", stall, v, ok)
		}
		c.openPost(1)
		c.fr.WriteData(1, false, make([]byte, 1000))
		updates := 0
		for _, f := range c.frames(300 * time.Millisecond) {
			if _, ok := f.(*http2.WindowUpdateFrame); ok {
				updates++
			}
		}
		if stall && updates != 0 || !stall && updates == 0 {
			t.Errorf("window-stall %v: %d WINDOW_UPDATEs after 1000 body bytes", stall, updates)
		}
		if stall {
			waitStats(t, s, "window-stall counted once", func(st Stats) bool { return st.Faults["window-stall"] == 1 })
		}
	}
}

// match on HTTP/2 streams: a path prefix against :path, a header field by name (any case) and
// value; only the matching streams meet the fault.
func TestH2Match(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, h2Config(withFaults(t, "rst-stream:match=/api", "status:code=503,match=X-Test: on")))
	c := dialH2(t, addr)
	c.getWith(1, "/api/orders")
	f, err := c.next(2 * time.Second)
	if rst, ok := f.(*http2.RSTStreamFrame); err != nil || !ok || rst.StreamID != 1 {
		t.Fatalf("GET /api/orders: %v %v, want RST_STREAM", f, err)
	}
	for _, tc := range []struct {
		id    uint32
		path  string
		extra []string
		want  string
	}{
		{3, "/", nil, "200"},
		{5, "/", []string{"x-test", "on"}, "503"},
		{7, "/", []string{"x-test", "off"}, "200"},
		{9, "/other/api", nil, "200"},
	} {
		c.getWith(tc.id, tc.path, tc.extra...)
		if status, _ := c.answer(tc.id); status != tc.want {
			t.Errorf("GET %s %v: %s, want %s", tc.path, tc.extra, status, tc.want)
		}
	}
}

// A client whose SETTINGS_HEADER_TABLE_SIZE is 0 (nginx's grpc module: it decodes every
// upstream response with a fresh table) gets answers that never name a dynamic table entry:
// each response's header block decodes with a table of size 0. Before the server honoured the
// setting, the second answer named the entry the first one added and nginx said "upstream sent
// invalid http2 table index: 63" (a 502 with no fault injected).
func TestH2HonoursPeerHeaderTableSize(t *testing.T) {
	_, addr := startServer(t, h2Config(&Config{}))
	c := dialH2(t, addr)
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	for i := uint32(0); i < 3; i++ {
		id := 1 + 2*i
		c.fr.ReadMetaHeaders = hpack.NewDecoder(0, nil) // fresh per response, as nginx's is
		c.get(id)
		if status, _ := c.answer(id); status != "200" {
			t.Fatalf("stream %d: status %q", id, status)
		}
	}
}

// wrappedListener hands out connections behind a wrapper of its own, as probe proxy's
// observer does to watch the upstream's connections.
type wrappedListener struct{ net.Listener }

type wrappedConn struct{ net.Conn }

func (l wrappedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wrappedConn{c}, nil
}

// h2c is served on connections a listener wrapper hands out (not *net.TCPConn): the server
// took any such connection for TLS without ALPN and answered the h2 preface as a bad HTTP/1.1
// request — probe proxy --http2 saw every proxy fail (HAProxy: 503 SC).
func TestH2cThroughAListenerWrapper(t *testing.T) {
	srv, err := New(h2Config(DefaultConfig()))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, wrappedListener{ln})
	resp, err := h2cClient().Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
	}
	if st := srv.Stats(); st.BadRequests != 0 || st.ResponsesCompleted != 1 {
		t.Fatalf("bad requests %d, responses %d", st.BadRequests, st.ResponsesCompleted)
	}
}

// markingListener's connections note, for each write, the server's fault count as the bytes
// left: what a client acting on those bytes at once (a proxy retrying after a GOAWAY, then the
// probe reading the stats) can see at the soonest.
type markingListener struct {
	net.Listener
	srv   *Server
	mu    sync.Mutex
	out   bytes.Buffer
	marks []writeMark
}

type writeMark struct {
	end    int    // offset in out just past this write
	faults uint64 // the server's injected faults as it was written
}

type markingConn struct {
	net.Conn
	l *markingListener
}

func (l *markingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return markingConn{c, l}, nil
}

func (c markingConn) Write(p []byte) (int, error) {
	var faults uint64
	for _, n := range c.l.srv.Stats().Faults {
		faults += n
	}
	c.l.mu.Lock()
	c.l.out.Write(p)
	c.l.marks = append(c.l.marks, writeMark{c.l.out.Len(), faults})
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// countedAt is the fault count as the first frame of the given type left the server, and
// whether there was one.
func (l *markingListener) countedAt(t *testing.T, typ http2.FrameType) (uint64, bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.out.Bytes()
	for off := 0; off+9 <= len(b); {
		fh := b[off : off+9]
		if http2.FrameType(fh[3]) == typ {
			i := slices.IndexFunc(l.marks, func(m writeMark) bool { return m.end > off })
			return l.marks[i].faults, true
		}
		off += 9 + (int(fh[0])<<16 | int(fh[1])<<8 | int(fh[2]))
	}
	return 0, false
}

// Each h2 fault that acts by sending a frame (GOAWAY, RST_STREAM) is counted before the frame
// leaves: a client that acts on the frame and then reads the stats must find it. The count
// came after the write, and probe proxy --http2 read a GET that Go's proxy sent again on a new
// connection, answered 200 before the server's goroutine had counted the GOAWAY, as "not the
// second stream of an upstream connection" (CI).
func TestH2FaultCountedBeforeItIsSent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec  string
		frame http2.FrameType
		drive func(c *h2Raw)
	}{
		{"goaway-race:stream=2", http2.FrameGoAway, func(c *h2Raw) { c.get(1); c.answer(1); c.get(3) }},
		{"goaway-after:streams=1", http2.FrameGoAway, func(c *h2Raw) { c.get(1); c.answer(1) }},
		{"goaway-idle:timeout=20ms", http2.FrameGoAway, func(c *h2Raw) { c.get(1); c.answer(1) }},
		{"max-streams:streams=1", http2.FrameRSTStream, func(c *h2Raw) { c.openPost(1); c.get(3) }},
		{"rst-stream", http2.FrameRSTStream, func(c *h2Raw) { c.get(1) }},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			t.Parallel()
			srv, err := New(h2Config(withFaults(t, tc.spec)))
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cl := &markingListener{Listener: ln, srv: srv}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go srv.Serve(ctx, cl)
			c := dialH2(t, ln.Addr().String())
			defer c.nc.Close()
			tc.drive(c)
			for {
				f, err := c.next(2 * time.Second)
				if err != nil {
					t.Fatalf("no %v frame: %v", tc.frame, err)
				}
				if f.Header().Type == tc.frame {
					break
				}
			}
			if n, ok := cl.countedAt(t, tc.frame); !ok || n != 1 {
				t.Errorf("the server's fault count as its %v frame was written: %d (found %v); want 1", tc.frame, n, ok)
			}
		})
	}
}

// A stream done with is taken again for the next one the client opens; what a fault held for
// the old stream must not act on the new one. Stream 1's answer is held (delay), the client
// resets stream 1 and opens stream 3 (a POST whose body has not come: it stays open); when
// the delay is over nothing is sent on stream 3 — its answer comes when its request ends.
func TestH2HeldAnswerOfAResetStreamStaysWithIt(t *testing.T) {
	t.Parallel()
	const d = 150 * time.Millisecond
	s, addr := startServer(t, h2Config(withFaults(t, "delay:head-delay=150ms,nth=1")))
	c := dialH2(t, addr)
	c.get(1)
	waitStats(t, s, "delay counted", func(st Stats) bool { return st.Faults["delay"] == 1 })
	if err := c.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	c.openPost(3)
	for _, f := range c.frames(d + 150*time.Millisecond) {
		if _, ok := f.(*http2.MetaHeadersFrame); ok {
			t.Fatalf("HEADERS on stream %d before stream 3's request ended (stream 1's held answer)", f.Header().StreamID)
		}
	}
	if err := c.fr.WriteData(3, true, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if status, _ := c.answer(3); status != "200" {
		t.Fatalf("stream 3: %s", status)
	}
}

// h2Script is a client's bytes for a connection of n GET streams (ids 1, 3, ...), each a
// HEADERS frame with END_STREAM, the first block adding the request to the server's HPACK
// table and the rest naming it (as the load generator and browsers send repeated requests).
func h2Script(t *testing.T, n int) []byte {
	t.Helper()
	first, again, ok := h2wire.Warm(hpack.HeaderField{Name: ":method", Value: "GET"}, hpack.HeaderField{Name: ":scheme", Value: "http"},
		hpack.HeaderField{Name: ":authority", Value: "127.0.0.1:9001"}, hpack.HeaderField{Name: ":path", Value: "/api/items"},
		hpack.HeaderField{Name: "user-agent", Value: "gatecrash"})
	if !ok {
		t.Fatal("the request does not fit the table")
	}
	var buf bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	fr.WriteSettings()
	for i := range n {
		block := again
		if i == 0 {
			block = first
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: block, EndHeaders: true, EndStream: true})
	}
	return buf.Bytes()
}

// Answering an HTTP/2 stream allocates nothing on the steady path (a request block naming the
// table's entries, the canned answer): the allocations of a connection of 2,100 streams less
// those of one of 100, per stream.
func TestH2StreamsAllocateNothing(t *testing.T) {
	t.Run("no fault", func(t *testing.T) { h2AllocsPerStream(t, h2Config(DefaultConfig()), "") })
	t.Run("status fault on every stream", func(t *testing.T) { h2AllocsPerStream(t, h2Config(withFaults(t, "status:code=503")), "status") })
}

// h2AllocsPerStream checks that serving cfg allocates nothing per stream, and that the fault
// kind (when given) acted on every stream.
func h2AllocsPerStream(t *testing.T, cfg *Config, kind string) {
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mallocs := func(n int) uint64 {
		in := h2Script(t, n)
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		before := m.Mallocs
		_, after := serveScript(t, s, in)
		runtime.ReadMemStats(&m)
		if after.ResponsesCompleted == 0 {
			t.Fatal("no stream answered")
		}
		return m.Mallocs - before
	}
	mallocs(100) // the package's first connection: one-time setup
	few, many := mallocs(100), mallocs(2100)
	if per := (float64(many) - float64(few)) / 2000; per > 0.05 {
		t.Errorf("%.2f allocations per stream (%d for 100 streams, %d for 2,100), want 0", per, few, many)
	}
	if st := s.Stats(); st.ResponsesCompleted != 2300 || kind != "" && st.Faults[kind] != 2300 {
		t.Errorf("%d streams answered, %d %s faults; want 2,300", st.ResponsesCompleted, st.Faults[kind], kind)
	}
}
