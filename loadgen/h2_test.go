package loadgen

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/results"
)

// The HTTP/2 load generator against a real h2 fault server: each stream's end lands in its
// class, exactly as many as the server injected, and nothing is ever sent again — the server
// saw as many streams as the client counted requests.
func TestH2OutcomesForReal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults []string
		tls    bool
		want   string // class counts of 1,000 requests
	}{
		{"clean h2c", nil, false, "ok:1000 "},
		{"clean h2 by ALPN", nil, true, "ok:1000 "},
		{"refused", []string{"rst-stream:code=refused-stream,every=10"}, false, "ok:900 refused-stream:100 "},
		{"reset before headers", []string{"rst-stream:code=internal-error,every=10"}, false, "ok:900 stream-reset:100 "},
		{"reset after headers", []string{"rst-stream:code=internal-error,after=headers,every=10"}, false, "ok:900 truncated:100 "},
		{"status", []string{"status:code=502,every=10"}, true, "ok:900 502:100 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, plain, tlsAddr := faultservertest.OriginH2(t, tc.faults...)
			url := "http://" + plain + "/"
			if tc.tls {
				url = "https://" + tlsAddr + "/"
			}
			res := run(t, Config{URL: url, HTTP2: true, Insecure: true, Connections: 2, Streams: 5, Requests: 1000,
				Timeout: yamlconf.Duration(5 * time.Second)})
			if got := classCounts(res); got != tc.want {
				t.Errorf("classes %q, want %q", got, tc.want)
			}
			st := s.Stats()
			if res.Connections.Opened != 2 || st.RequestsStarted != 1000 {
				t.Errorf("%d connections opened, server saw %d streams; want 2 and 1000 (no stream sent again)",
					res.Connections.Opened, st.RequestsStarted)
			}
			if res.Target.ConnectionsText() != "2 h2c connections x 5 streams" && !tc.tls ||
				tc.tls && res.Target.Protocol != "h2" {
				t.Errorf("target %+v", res.Target)
			}
		})
	}
}

// Connection-level ends: streams above a GOAWAY's last stream id are goaway (or refused while
// the server lingers), streams cut by a close without GOAWAY are no-response; every request the
// server did not answer is a client error, and none was sent twice; the client opens a new
// connection for the next request, never for the failed one.
func TestH2ConnectionEndsForReal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		fault   string
		classes []results.Class // the error classes allowed
		exact   bool            // every answer the server wrote reached the client
	}{
		{"goaway-after", "goaway-after:streams=50,close-after=100ms", []results.Class{results.GoAway, results.RefusedStream}, true},
		{"goaway-after, rude close", "goaway-after:streams=50", []results.Class{results.GoAway, results.RefusedStream,
			results.NoResponse, results.Reset, results.Truncated}, false},
		{"close-no-goaway", "close-no-goaway:every=50", []results.Class{results.NoResponse, results.Reset, results.Truncated}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, plain, _ := faultservertest.OriginH2(t, tc.fault)
			res := run(t, Config{URL: "http://" + plain + "/", HTTP2: true, Connections: 1, Streams: 10, Requests: 1000,
				Timeout: yamlconf.Duration(5 * time.Second)})
			time.Sleep(50 * time.Millisecond) // the server's counters lag the client's by the last frames
			st := s.Stats()
			var errs int64
			for _, c := range results.Classes() {
				if n := res.Count(c); c.IsError() && n > 0 {
					allowed := false
					for _, a := range tc.classes {
						allowed = allowed || a == c
					}
					if !allowed {
						t.Errorf("%d %s; allowed error classes %v", n, c, tc.classes)
					}
					errs += n
				}
			}
			// The server never sees more streams than the client counted requests (nothing sent
			// twice; fewer when a close beat a stream's HEADERS), and the client never more
			// answers than it wrote (fewer when a reset discarded answers already sent).
			ok := uint64(res.Count(results.OK))
			if st.RequestsStarted > uint64(res.Requests) || ok > st.ResponsesCompleted || tc.exact && ok != st.ResponsesCompleted {
				t.Errorf("client: %d requests, %d ok (%s); server: %d streams, %d answered", res.Requests, ok, classCounts(res),
					st.RequestsStarted, st.ResponsesCompleted)
			}
			if res.Connections.Opened < 10 || errs == 0 {
				t.Errorf("%d connections, %d errors: want a new connection after each end (about 20) and some errors", res.Connections.Opened, errs)
			}
		})
	}
}

// A stream the server holds past the timeout is a timeout (RST_STREAM CANCEL), and only that
// one: the connection's other streams go on.
func TestH2TimeoutIsOneStream(t *testing.T) {
	t.Parallel()
	_, plain, _ := faultservertest.OriginH2(t, "delay:head-delay=3s,nth=3")
	res := run(t, Config{URL: "http://" + plain + "/", HTTP2: true, Connections: 1, Streams: 4, Requests: 40,
		Timeout: yamlconf.Duration(300 * time.Millisecond)})
	if got := classCounts(res); got != "ok:39 timeout:1 " || res.Connections.Opened != 1 {
		t.Errorf("classes %q over %d connections, want ok:39 timeout:1 over 1", got, res.Connections.Opened)
	}
	if ex := res.Exemplars[results.Timeout]; len(ex) != 1 || !strings.Contains(ex[0].Error, "timeout") {
		t.Errorf("timeout exemplars %+v", ex)
	}
}

// HTTP/2 settings are checked: streams without http2, and what HTTP/2 does not do.
func TestH2ConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "http://127.0.0.1:1/", Streams: 4}, "streams: 4 streams per connection need http2"},
		{Config{URL: "http://127.0.0.1:1/", HTTP2: true, ExpectContinue: true}, "expect-continue: not supported with http2"},
		{Config{URL: "http://127.0.0.1:1/", HTTP2: true, Streams: 2, Pattern: GapSweep, GapCenter: yamlconf.Duration(time.Second)},
			"pattern: not supported with http2"},
	} {
		tc.cfg.SetDefaults()
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// --idle-timeout with HTTP/2: a connection that has had no stream open for longer is not used
// again; without it the one connection carries every request.
func TestH2IdleTimeout(t *testing.T) {
	t.Parallel()
	_, plain, _ := faultservertest.OriginH2(t)
	for _, tc := range []struct {
		idle   time.Duration
		opened int64
	}{{0, 1}, {30 * time.Millisecond, 4}} {
		res := run(t, Config{URL: "http://" + plain + "/", HTTP2: true, Connections: 1, Requests: 4,
			ThinkTime: yamlconf.Duration(60 * time.Millisecond), IdleTimeout: yamlconf.Duration(tc.idle)})
		if res.Count(results.OK) != 4 || res.Connections.Opened != tc.opened {
			t.Errorf("idle-timeout %v: %s over %d connections, want ok:4 over %d", tc.idle, classCounts(res), res.Connections.Opened, tc.opened)
		}
	}
}

// A response header block split over HEADERS and CONTINUATION frames is decoded whole (the
// status is in the first fragment, END_STREAM on the HEADERS, END_HEADERS on the last
// CONTINUATION); a server the load generator's own decoder cannot read (a bad hpack block)
// ends the connection as malformed.
func TestH2HeaderBlockInContinuation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bad  bool
		want string
	}{{"continuation", false, "ok:3 "}, {"bad block", true, "malformed:1 "}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := int64(3)
			if tc.bad {
				n = 1
			}
			res := rawH2Run(t, n, splitBlock(tc.bad))
			if got := classCounts(res); got != tc.want {
				t.Errorf("classes %q, want %q", got, tc.want)
			}
		})
	}
}

// rawH2Run sends n requests, one at a time over one h2c connection, to a rawH2Server that
// answers them with answer.
func rawH2Run(t *testing.T, n int64, answer func(fr *http2.Framer, id uint32, n int)) *results.Result {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go rawH2Server(ln, answer)
	return run(t, Config{URL: "http://" + ln.Addr().String() + "/", HTTP2: true, Connections: 1, Requests: n,
		Timeout: yamlconf.Duration(2 * time.Second)})
}

// rawH2Server answers each stream on each connection with answer (n counts the connection's
// streams from 0).
func rawH2Server(ln net.Listener, answer func(fr *http2.Framer, id uint32, n int)) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			pre := make([]byte, len(http2.ClientPreface))
			if _, err := io.ReadFull(nc, pre); err != nil {
				return
			}
			fr := http2.NewFramer(nc, nc)
			fr.WriteSettings()
			for n := 0; ; {
				f, err := fr.ReadFrame()
				if err != nil {
					return
				}
				switch f := f.(type) {
				case *http2.SettingsFrame:
					if !f.IsAck() {
						fr.WriteSettingsAck()
					}
				case *http2.HeadersFrame:
					answer(fr, f.StreamID, n)
					n++
				}
			}
		}()
	}
}

// splitBlock answers with a header block split in two (HEADERS with END_STREAM, then
// CONTINUATION with END_HEADERS), or with garbage for a block.
func splitBlock(bad bool) func(fr *http2.Framer, id uint32, n int) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "x-long", Value: strings.Repeat("v", 100)})
	block := buf.Bytes()
	if bad {
		block = []byte{0xff, 0xff, 0xff, 0xff} // an index past every table
	}
	return func(fr *http2.Framer, id uint32, _ int) {
		cut := len(block) / 2
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:cut], EndStream: true})
		fr.WriteContinuation(id, true, block[cut:])
	}
}

// The reader keeps what an indexed-only header block said and does not decode the same bytes
// again — until another block changes the table: then the same byte names another entry. A
// server adds ":status: 200" to its table (entry 62) and answers by reference to it, then adds
// ":status: 503" (now 62; 200 moves to 63) and sends the very same reference byte again: that
// answer is a 503, not the 200 the byte meant before.
func TestH2SameBlockAfterTheTableChanged(t *testing.T) {
	t.Parallel()
	literal := func(status string) []byte { // literal with incremental indexing, name :status (static 8)
		return append([]byte{0x48, byte(len(status))}, status...)
	}
	blocks := [][]byte{literal("200"), {0xbe}, {0xbe}, literal("503"), {0xbe}, {0xbe}, {0xbf}}
	res := rawH2Run(t, int64(len(blocks)), func(fr *http2.Framer, id uint32, n int) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blocks[n%len(blocks)], EndStream: true, EndHeaders: true})
	})
	if got, want := classCounts(res), "ok:4 503:3 "; got != want {
		t.Errorf("classes %q, want %q (200, 200, 200, 503, 503, 503, 200)", got, want)
	}
}

// DATA frames: a padded one counts whole toward the response's bytes (padding included, as
// flow control does), END_STREAM on the last ends the response; padding longer than its frame
// is a PROTOCOL_ERROR that ends the connection (malformed).
func TestH2DataFrames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bad  bool
		want string
	}{{"padded", false, "5xx:3 "}, {"pad past the payload", true, "malformed:1 "}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := int64(3)
			if tc.bad {
				n = 1
			}
			res := rawH2Run(t, n, func(fr *http2.Framer, id uint32, _ int) {
				// :status 500 (static 14): a class whose requests are kept as exemplars, with their bytes
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x8e}, EndHeaders: true})
				fr.WriteDataPadded(id, false, []byte("hello "), make([]byte, 7))
				if tc.bad {
					fr.WriteRawFrame(http2.FrameData, http2.FlagDataPadded|http2.FlagDataEndStream, id, []byte{9, 'x', 'y'})
					return
				}
				fr.WriteData(id, true, []byte("world"))
			})
			if got := classCounts(res); got != tc.want {
				t.Errorf("classes %q, want %q", got, tc.want)
			}
			if !tc.bad {
				// HEADERS (1 byte) + padded DATA (1 + 6 + 7) + DATA (5), per response
				for _, ex := range res.Exemplars[results.Status5xx] {
					if ex.BytesRead != 1+14+5 {
						t.Errorf("a response of %d bytes, want %d", ex.BytesRead, 1+14+5)
					}
				}
				if len(res.Exemplars[results.Status5xx]) == 0 {
					t.Error("no exemplar kept")
				}
			}
		})
	}
}
