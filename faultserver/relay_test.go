package faultserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/proxy"
)

// testApp is a real net/http app behind the relay, counting what it saw.
type testApp struct {
	url      string
	requests atomic.Int64
	conns    atomic.Int64 // connections it accepted
	closed   atomic.Int64 // connections that ended
	srv      *http.Server
}

// startApp runs the app on loopback with the given keep-alive idle timeout (0: Go's default).
func startApp(t *testing.T, idle time.Duration) *testApp {
	t.Helper()
	a := &testApp{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App", "yes")
		fmt.Fprintf(w, "hello from the app: %s %s\n", r.Method, r.URL.Path)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(Payload(n))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "piece %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("X-Sha256", hex.EncodeToString(h.Sum(nil)))
		fmt.Fprintf(w, "%d bytes\n", n)
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/early", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "after early hints\n")
	})
	a.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.requests.Add(1)
			mux.ServeHTTP(w, r)
		}),
		IdleTimeout: idle,
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				a.conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				a.closed.Add(1)
			}
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.url = "http://" + ln.Addr().String()
	go a.srv.Serve(ln)
	t.Cleanup(func() { a.srv.Close() })
	return a
}

// startRelay serves cfg as a relay in front of upstream.
func startRelay(t *testing.T, cfg *Config, upstream string, o UpstreamOptions, opts ...Option) (*Server, string) {
	t.Helper()
	up, err := ParseUpstream(upstream, o)
	if err != nil {
		t.Fatal(err)
	}
	s, addr, _ := startServerTLS(t, cfg, false, append(opts, WithUpstream(up))...)
	return s, addr
}

func relayClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
}

// TestRelayPassesTheAppThrough: with no faults every answer is the app's own, byte for byte
// in what matters (status, headers, body), every framing streams through, and the relay's
// connection and request counts agree with the app's.
func TestRelayPassesTheAppThrough(t *testing.T) {
	t.Parallel()
	app := startApp(t, 0)
	s, addr := startRelay(t, DefaultConfig(), app.url, UpstreamOptions{})
	cl := relayClient()
	defer cl.CloseIdleConnections()

	do := func(base, method, path string, body []byte) (int, http.Header, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("%s %s%s: %v", method, base, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s%s: body: %v", method, base, path, err)
		}
		resp.Header.Del("Date")
		return resp.StatusCode, resp.Header, b
	}
	big := Payload(5 << 20)
	cases := []struct {
		method, path string
		body         []byte
	}{
		{"GET", "/", nil}, {"HEAD", "/", nil}, {"GET", "/big?n=3000000", nil}, {"GET", "/chunked", nil},
		{"POST", "/echo", big}, {"GET", "/empty", nil}, {"GET", "/early", nil}, {"POST", "/echo", []byte("small")},
	}
	for round := range 3 {
		for _, c := range cases {
			ws, wh, wb := do(app.url, c.method, c.path, c.body)
			gs, gh, gb := do("http://"+addr, c.method, c.path, c.body)
			if gs != ws || !bytes.Equal(gb, wb) || fmt.Sprint(gh) != fmt.Sprint(wh) {
				t.Fatalf("round %d %s %s through the relay: %d %v %d bytes (sha %x); the app directly: %d %v %d bytes (sha %x)",
					round, c.method, c.path, gs, gh, len(gb), sha256.Sum256(gb), ws, wh, len(wb), sha256.Sum256(wb))
			}
		}
	}
	// A chunked upload (no Content-Length) streams through too.
	req, _ := http.NewRequest("POST", "http://"+addr+"/echo", io.MultiReader(bytes.NewReader(big), strings.NewReader("tail")))
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	want := sha256.Sum256(append(append([]byte(nil), big...), "tail"...))
	if got := resp.Header.Get("X-Sha256"); got != hex.EncodeToString(want[:]) {
		t.Fatalf("chunked upload through the relay: app saw sha %s, want %x", got, want)
	}

	st := s.Stats()
	r := st.Relay
	if r == nil || st.FaultsTotal() != 0 || r.AppErrors.Total() != 0 {
		t.Fatalf("stats after clean traffic: faults %d, relay %+v", st.FaultsTotal(), r)
	}
	viaRelay := int64(3*len(cases) + 1)
	if int64(r.RequestsForwarded) != viaRelay || int64(r.ResponsesRelayed) != viaRelay {
		t.Fatalf("forwarded %d, relayed %d; want %d each", r.RequestsForwarded, r.ResponsesRelayed, viaRelay)
	}
	// The app saw the direct requests and the relayed ones; the relay's upstream connections
	// are the app's connections less the client's direct ones.
	if got := app.requests.Load(); got != viaRelay+int64(3*len(cases)) {
		t.Fatalf("app saw %d requests, want %d", got, viaRelay+int64(3*len(cases)))
	}
	if r.RequestsOnReused == 0 || r.ConnectionsOpened >= r.RequestsForwarded {
		t.Fatalf("keep-alive did not show through: %d connections opened for %d requests (%d on reused)",
			r.ConnectionsOpened, r.RequestsForwarded, r.RequestsOnReused)
	}
	if int64(r.ConnectionsOpened) != int64(st.ConnectionsAccepted) {
		t.Fatalf("1:1 broken: %d downstream connections, %d upstream", st.ConnectionsAccepted, r.ConnectionsOpened)
	}
}

// TestRelayPassesTheAppsIdleCloseOn: the app's own keep-alive timeout shows through the relay:
// the downstream connection ends when the app ends its side, and it is counted as the app's
// close, not a fault.
func TestRelayPassesTheAppsIdleCloseOn(t *testing.T) {
	t.Parallel()
	app := startApp(t, 150*time.Millisecond)
	s, addr := startRelay(t, DefaultConfig(), app.url, UpstreamOptions{})
	c := dial(t, addr)
	send(t, c, getReq)
	head := readN(t, c, len("HTTP/1.1 200 OK\r\n"))
	if string(head) != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("got %q", head)
	}
	start := time.Now()
	got, err := readUntilEnd(t, c, 3*time.Second)
	took := time.Since(start)
	if ending(err) != "EOF" || !strings.Contains(string(got), "hello from the app") {
		t.Fatalf("after the response: %q, ended %s; want the app's body then EOF", got, ending(err))
	}
	if took < 100*time.Millisecond || took > 2*time.Second {
		t.Fatalf("downstream closed %s after the response; the app's idle timeout is 150ms", took)
	}
	st := waitStats(t, s, "the app's idle close", func(st Stats) bool { return st.Relay.AppClosedIdle == 1 })
	if st.FaultsTotal() != 0 || st.Relay.RelayClosed != 0 || st.Closes.ServerFIN != 1 {
		t.Fatalf("the app's idle close counted wrong: faults %d, relay %+v, closes %+v", st.FaultsTotal(), st.Relay, st.Closes)
	}
}

// TestRelayFaults: each fault kind acts at its position on the app's real answer, and the
// app sees the request or not as the kind says.
func TestRelayFaults(t *testing.T) {
	t.Parallel()
	statusLine := "HTTP/1.1 200 OK\r\n"
	for _, tc := range []struct {
		name, fault string
		reqs        []string // sent in order on one connection, each read to its end
		appSees     int64
		check       func(t *testing.T, got string, end string, took time.Duration)
	}{
		{"rst-headers", "rst-headers", []string{getReq}, 1, func(t *testing.T, got, end string, _ time.Duration) {
			if got != statusLine || end != "RST" {
				t.Errorf("got %q then %s; want the app's status line then RST", got, end)
			}
		}},
		{"cut-body", "cut-body:after-bytes=5", []string{"GET /big?n=100 HTTP/1.1\r\nHost: t\r\n\r\n"}, 1, func(t *testing.T, got, end string, _ time.Duration) {
			head, body, _ := strings.Cut(got, "\r\n\r\n")
			if !strings.Contains(head, "Content-Length: 100") || body != string(Payload(100)[:5]) || end != "EOF" {
				t.Errorf("got %q then %s; want the app's head and 5 body bytes, then EOF", got, end)
			}
		}},
		{"cut-body-short", "cut-body:after-bytes=500", []string{"GET /big?n=100 HTTP/1.1\r\nHost: t\r\n\r\n"}, 1, func(t *testing.T, got, end string, _ time.Duration) {
			_, body, _ := strings.Cut(got, "\r\n\r\n")
			if len(body) != 99 {
				t.Errorf("body of %d bytes; want 99 (one short of the app's 100)", len(body))
			}
		}},
		{"cut-body-chunked", "cut-body:after-bytes=1000,close=rst", []string{"GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n"}, 1, func(t *testing.T, got, end string, _ time.Duration) {
			if !strings.Contains(got, "piece 2\n") || strings.HasSuffix(got, "0\r\n\r\n") || end != "RST" {
				t.Errorf("got %q then %s; want every piece but no last chunk, then RST", got, end)
			}
		}},
		{"no-response", "no-response", []string{"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"}, 1, func(t *testing.T, got, end string, _ time.Duration) {
			if got != "" || end != "EOF" {
				t.Errorf("got %q then %s; want nothing, EOF", got, end)
			}
		}},
		{"no-response-not-forwarded", "no-response:forward=false", []string{getReq}, 0, func(t *testing.T, got, end string, _ time.Duration) {
			if got != "" || end != "EOF" {
				t.Errorf("got %q then %s; want nothing, EOF", got, end)
			}
		}},
		{"status", "status:code=503", []string{"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"}, 0, func(t *testing.T, got, end string, _ time.Duration) {
			if !strings.HasPrefix(got, "HTTP/1.1 503 ") {
				t.Errorf("got %q; want the relay's 503", got)
			}
		}},
		{"delay", "delay:head-delay=150ms", []string{"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"}, 1, func(t *testing.T, got, end string, took time.Duration) {
			if !strings.Contains(got, "hello from the app") || took < 150*time.Millisecond {
				t.Errorf("got %q after %s; want the app's answer after 150ms", got, took)
			}
		}},
		{"delay-drip", "delay:body-rate=200", []string{"GET /big?n=40 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"}, 1, func(t *testing.T, got, end string, took time.Duration) {
			if !strings.HasSuffix(got, string(Payload(40))) || took < 150*time.Millisecond {
				t.Errorf("got %q after %s; want the app's 40 bytes dripped at 200/s", got, took)
			}
		}},
		{"close-on-reuse", "close-on-reuse", []string{getReq, getReq}, 1, func(t *testing.T, got, end string, _ time.Duration) {
			if got != "" || end != "EOF" {
				t.Errorf("second request: got %q then %s; want nothing, EOF", got, end)
			}
		}},
		{"fin-mid-request", "fin-mid-request:after-bytes=10", []string{"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"}, 0, func(t *testing.T, got, end string, _ time.Duration) {
			if got != "" || (end != "EOF" && end != "RST") {
				t.Errorf("got %q then %s; want nothing, then the close", got, end)
			}
		}},
		{"idle-close", "idle-close:timeout=100ms", []string{getReq}, 1, func(t *testing.T, got, end string, took time.Duration) {
			if !strings.Contains(got, "hello from the app") || end != "EOF" || took < 100*time.Millisecond {
				t.Errorf("got %q then %s after %s; want the answer, then EOF at 100ms", got, end, took)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := startApp(t, 0)
			s, addr := startRelay(t, withFaults(t, tc.fault), app.url, UpstreamOptions{})
			c := dial(t, addr)
			var got string
			var end string
			var took time.Duration
			for i, r := range tc.reqs {
				send(t, c, r)
				start := time.Now()
				if i < len(tc.reqs)-1 {
					// read one whole answer of the app's on a kept-alive connection
					b := make([]byte, 4096)
					c.SetReadDeadline(time.Now().Add(3 * time.Second))
					n, err := c.Read(b)
					if err != nil || !strings.Contains(string(b[:n]), "hello from the app") {
						t.Fatalf("request %d: %q, %v", i+1, b[:n], err)
					}
					time.Sleep(20 * time.Millisecond)
					continue
				}
				b, err := readUntilEnd(t, c, 3*time.Second)
				got, end, took = string(b), ending(err), time.Since(start)
			}
			tc.check(t, got, end, took)
			kind, _, _ := strings.Cut(tc.fault, ":")
			st := waitStats(t, s, kind+" counted", func(st Stats) bool { return st.Faults[kind] == 1 })
			if st.FaultsTotal() != 1 || st.Relay.AppErrors.Total() != 0 {
				t.Errorf("faults %v, app errors %+v; want one %s and no app error", st.Faults, st.Relay.AppErrors, kind)
			}
			if n := app.requests.Load(); n != tc.appSees {
				t.Errorf("the app saw %d requests; want %d", n, tc.appSees)
			}
			// The app's connection ends with the downstream one.
			deadline := time.Now().Add(2 * time.Second)
			for app.closed.Load() != app.conns.Load() && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if app.closed.Load() != app.conns.Load() {
				t.Errorf("the app has %d connections open after the downstream one ended", app.conns.Load()-app.closed.Load())
			}
		})
	}
}

// TestRelayHeaderChosenFault: X-Gatecrash-Fault works in relay mode too.
func TestRelayHeaderChosenFault(t *testing.T) {
	t.Parallel()
	app := startApp(t, 0)
	s, addr := startRelay(t, DefaultConfig(), app.url, UpstreamOptions{})
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: rst-headers;after-bytes=9\r\n\r\n")
	got, err := readUntilEnd(t, c, 3*time.Second)
	if string(got) != "HTTP/1.1 " || ending(err) != "RST" {
		t.Fatalf("got %q then %s; want 9 bytes of the app's head, then RST", got, ending(err))
	}
	waitStats(t, s, "rst-headers counted", func(st Stats) bool { return st.Faults["rst-headers"] == 1 })
}

// rawApp is a hostile app: each accepted connection is handed to handle.
func rawApp(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func readReqHead(c net.Conn) {
	b := make([]byte, 4096)
	var got []byte
	for !bytes.Contains(got, []byte("\r\n\r\n")) {
		n, err := c.Read(b)
		if err != nil {
			return
		}
		got = append(got, b[:n]...)
	}
}

// TestRelayAppFailuresAreNotFaults: whatever the app does wrong is counted as the app's
// error and passed on as the app made it; no fault is counted.
func TestRelayAppFailuresAreNotFaults(t *testing.T) {
	t.Parallel()
	closedPort := func() string {
		addr, err := proxy.FreeListenAddr() // nobody listens there
		if err != nil {
			t.Fatal(err)
		}
		return "http://" + addr
	}()
	for _, tc := range []struct {
		name     string
		upstream string
		app      func(net.Conn)
		want     func(got, end string) bool
		counted  func(Stats) uint64
	}{
		{"down", closedPort, nil,
			func(got, end string) bool {
				return strings.HasPrefix(got, "HTTP/1.1 502 ") && strings.Contains(got, "cannot reach the app")
			},
			func(s Stats) uint64 { return s.Relay.AppErrors.Connect }},
		{"garbage", "", func(c net.Conn) { readReqHead(c); io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n") },
			func(got, end string) bool {
				return strings.HasPrefix(got, "HTTP/1.1 502 ") && strings.Contains(got, "not HTTP/1.1")
			},
			func(s Stats) uint64 { return s.Relay.AppErrors.Malformed }},
		{"silent", "", func(c net.Conn) { readReqHead(c); time.Sleep(2 * time.Second) },
			func(got, end string) bool { return strings.HasPrefix(got, "HTTP/1.1 504 ") },
			func(s Stats) uint64 { return s.Relay.AppErrors.Timeout }},
		{"closes-mid-body", "", func(c net.Conn) {
			readReqHead(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
		}, func(got, end string) bool { return strings.HasSuffix(got, "\r\n\r\n0123456789") && end == "EOF" },
			func(s Stats) uint64 { return s.Relay.AppErrors.Closed }},
		{"resets", "", func(c net.Conn) {
			readReqHead(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			time.Sleep(50 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0)
		}, func(got, end string) bool { return got == "HTTP/1.1 200 OK\r\n" || end == "RST" },
			func(s Stats) uint64 { return s.Relay.AppErrors.Reset }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := tc.upstream
			if tc.app != nil {
				up = rawApp(t, tc.app)
			}
			s, addr := startRelay(t, DefaultConfig(), up, UpstreamOptions{Timeout: 200 * time.Millisecond})
			c := dial(t, addr)
			send(t, c, getReq)
			got, err := readUntilEnd(t, c, 3*time.Second)
			if !tc.want(string(got), ending(err)) {
				t.Errorf("client got %q then %s", got, ending(err))
			}
			st := waitStats(t, s, "the app's error", func(st Stats) bool { return tc.counted(st) == 1 })
			if st.FaultsTotal() != 0 || st.Relay.AppErrors.Total() != 1 {
				t.Errorf("faults %d, app errors %+v; want no fault and this one app error", st.FaultsTotal(), st.Relay.AppErrors)
			}
		})
	}
}

// TestRelayLargeBodiesBothWays streams 100 MiB up and down; the relay never holds a body.
func TestRelayLargeBodiesBothWays(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MiB each way")
	}
	t.Parallel()
	app := startApp(t, 0)
	_, addr := startRelay(t, DefaultConfig(), app.url, UpstreamOptions{})
	cl := relayClient()
	defer cl.CloseIdleConnections()
	const n = 100 << 20
	resp, err := cl.Get("http://" + addr + "/big?n=" + strconv.Itoa(n))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	got, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || got != n {
		t.Fatalf("download: %d bytes, %v", got, err)
	}
	up := io.LimitReader(&loopReader{data: Payload(1 << 16)}, n)
	resp, err = cl.Post("http://"+addr+"/echo", "application/octet-stream", up)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != fmt.Sprintf("%d bytes\n", n) {
		t.Fatalf("upload: the app says %q", b)
	}
}

// TestParseUpstream: bad upstreams are refused with what is allowed.
func TestParseUpstream(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "app:8000", "ftp://app", "http://", "http://app:8000/api", "http://u@app"} {
		if _, err := ParseUpstream(bad, UpstreamOptions{}); err == nil || !strings.Contains(err.Error(), "upstream") {
			t.Errorf("ParseUpstream(%q) = %v; want an error naming the upstream", bad, err)
		}
	}
	if _, err := ParseUpstream("http://app:8000", UpstreamOptions{Insecure: true}); err == nil {
		t.Error("--upstream-insecure with http:// accepted")
	}
	if _, err := ParseUpstream("https://app", UpstreamOptions{CAFile: "/nonexistent/ca.pem"}); err == nil ||
		!strings.Contains(err.Error(), "--upstream-ca") {
		t.Errorf("missing CA file: %v", err)
	}
	u, err := ParseUpstream("https://app/", UpstreamOptions{})
	if err != nil || u.addr != "app:443" || u.String() != "https://app" {
		t.Errorf("https://app/ = %+v, %v", u, err)
	}
}

// TestRelayAppClosesWhileARequestIsServedLocally: the app ends its idle connection while the
// relay answers a request itself (a status fault): the answer goes out whole, and then the
// downstream connection ends as the app's did — not before, not never.
func TestRelayAppClosesWhileARequestIsServedLocally(t *testing.T) {
	t.Parallel()
	app := startApp(t, 100*time.Millisecond)
	s, addr := startRelay(t, DefaultConfig(), app.url, UpstreamOptions{})
	c := dial(t, addr)
	send(t, c, getReq) // opens the app connection
	b := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := c.Read(b); err != nil || !strings.Contains(string(b[:n]), "hello from the app") {
		t.Fatalf("first answer: %q, %v", b[:n], err)
	}
	send(t, c, "POST / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: status;code=503\r\nContent-Length: 4\r\n\r\n")
	time.Sleep(400 * time.Millisecond) // the app's idle timeout passes while the body is awaited
	send(t, c, "body")
	got, err := readUntilEnd(t, c, 3*time.Second)
	if !strings.HasPrefix(string(got), "HTTP/1.1 503 ") || !strings.HasSuffix(string(got), "503\n") || ending(err) != "EOF" {
		t.Fatalf("got %q then %s; want the whole 503, then EOF", got, ending(err))
	}
	st := waitStats(t, s, "the app's idle close", func(st Stats) bool { return st.Relay.AppClosedIdle == 1 })
	if st.Faults["status"] != 1 || st.Relay.AppErrors.Total() != 0 || st.BadRequests != 0 {
		t.Fatalf("faults %v, relay %+v, bad requests %d", st.Faults, st.Relay, st.BadRequests)
	}
}

// TestShutdownDrainsRequestsInFlight: at shutdown an idle connection closes at once, while a
// request in flight gets its whole answer (counted), then its connection closes.
func TestShutdownDrainsRequestsInFlight(t *testing.T) {
	t.Parallel()
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		io.WriteString(w, "slow but whole\n")
	})}
	go app.Serve(appLn)
	defer app.Close()
	up, _ := ParseUpstream("http://"+appLn.Addr().String(), UpstreamOptions{})
	s, err := New(nil, WithUpstream(up))
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	idle := dial(t, ln.Addr().String())
	busy := dial(t, ln.Addr().String())
	send(t, busy, getReq)
	waitStats(t, s, "the request forwarded", func(st Stats) bool { return st.Relay.RequestsForwarded == 1 })
	cancel()
	start := time.Now()
	if _, err := readUntilEnd(t, idle, 2*time.Second); ending(err) != "EOF" || time.Since(start) > 200*time.Millisecond {
		t.Errorf("idle connection: %s after %s; want EOF at once", ending(err), time.Since(start))
	}
	got, err := readUntilEnd(t, busy, 3*time.Second)
	if !strings.HasSuffix(string(got), "slow but whole\n") || ending(err) != "EOF" {
		t.Errorf("request in flight: %q then %s; want the whole answer, then EOF", got, ending(err))
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.ResponsesCompleted != 1 || st.Relay.ResponsesRelayed != 1 || st.ConnectionsOpen != 0 || st.Relay.ConnectionsOpen != 0 {
		t.Errorf("after the drain: responses %d, relay %+v, open %d", st.ResponsesCompleted, st.Relay, st.ConnectionsOpen)
	}
}

// TestRelayToHTTPSApp: an https app is reached over TLS, verified with --upstream-ca (an
// unverifiable certificate is the app's connect error, a 502 that says why), or not verified
// with --upstream-insecure.
func TestRelayToHTTPSApp(t *testing.T) {
	t.Parallel()
	app := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "over tls: "+r.URL.Path+"\n")
	}))
	defer app.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: app.Certificate().Raw}), 0o600)
	for _, tc := range []struct {
		name string
		o    UpstreamOptions
		want string
	}{
		{"ca", UpstreamOptions{CAFile: ca}, "over tls: /x\n"},
		{"insecure", UpstreamOptions{Insecure: true}, "over tls: /x\n"},
		{"unverified", UpstreamOptions{}, "certificate"},
	} {
		s, addr := startRelay(t, DefaultConfig(), app.URL, tc.o)
		c := dial(t, addr)
		send(t, c, "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
		got, _ := readUntilEnd(t, c, 3*time.Second)
		if !strings.Contains(string(got), tc.want) {
			t.Errorf("%s: got %q; want %q", tc.name, got, tc.want)
		}
		if st := s.Stats(); (tc.name == "unverified") != (st.Relay.AppErrors.Connect == 1) {
			t.Errorf("%s: app errors %+v", tc.name, st.Relay.AppErrors)
		}
	}
}

// TestRelayBehindTLSListener: the relay terminates TLS downstream with its own certificate
// (the app speaks plain HTTP), and tls-stall stalls that handshake without the app seeing
// anything.
func TestRelayBehindTLSListener(t *testing.T) {
	t.Parallel()
	app := startApp(t, 0)
	up, _ := ParseUpstream(app.url, UpstreamOptions{})
	cfg := withFaults(t, "tls-stall:every=2")
	s, _, tlsAddr := startServerTLS(t, cfg, true, WithUpstream(up))
	get := func() (string, error) {
		raw, err := net.DialTimeout("tcp", tlsAddr, time.Second)
		if err != nil {
			return "", err
		}
		c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
		defer c.Close()
		c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if err := c.Handshake(); err != nil {
			return "", err
		}
		io.WriteString(c, "GET /tls HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
		b, err := io.ReadAll(c)
		return string(b), err
	}
	var ok, stalled int
	for range 4 {
		got, err := get()
		switch {
		case err == nil && strings.Contains(got, "hello from the app: GET /tls"):
			ok++
		case err != nil && isTimeout(err):
			stalled++
		default:
			t.Errorf("got %q, %v", got, err)
		}
	}
	if ok != 2 || stalled != 2 {
		t.Errorf("%d answered, %d stalled; want 2 and 2 (every second handshake stalls)", ok, stalled)
	}
	st := waitStats(t, s, "the stalls", func(st Stats) bool { return st.Faults["tls-stall"] == 2 })
	if st.Relay.RequestsForwarded != 2 || app.requests.Load() != 2 {
		t.Errorf("forwarded %d, the app saw %d; want 2", st.Relay.RequestsForwarded, app.requests.Load())
	}
}

// TestRelayProtocolEdges: Expect: 100-continue (the relay answers 100 itself and the app's
// own 100 is not passed on twice), pipelined requests, HTTP/1.0, and a 101 upgrade tunnel.
func TestRelayProtocolEdges(t *testing.T) {
	t.Parallel()
	app := startApp(t, 0)
	_, addr := startRelay(t, DefaultConfig(), app.url, UpstreamOptions{})

	c := dial(t, addr)
	send(t, c, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	if got := string(readN(t, c, len("HTTP/1.1 100 Continue\r\n\r\n"))); got != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Fatalf("Expect: got %q", got)
	}
	send(t, c, "hello")
	send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	got, _ := readUntilEnd(t, c, 3*time.Second)
	if strings.Count(string(got), "100 Continue") != 0 || !strings.Contains(string(got), "5 bytes\n") ||
		!strings.HasSuffix(string(got), "hello from the app: GET /\n") {
		t.Fatalf("after the 100: %q", got)
	}

	c = dial(t, addr)
	send(t, c, "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\nGET /c HTTP/1.0\r\nHost: t\r\n\r\n")
	got, err := readUntilEnd(t, c, 3*time.Second)
	s := string(got)
	if ia, ib, ic := strings.Index(s, "GET /a"), strings.Index(s, "GET /b"), strings.Index(s, "GET /c"); ia < 0 || ib < ia || ic < ib || ending(err) != "EOF" {
		t.Fatalf("pipelined and HTTP/1.0: %q then %s; want /a, /b, /c in order, then the close HTTP/1.0 asks for", s, ending(err))
	}

	// A 101 upgrade: bytes both ways after the head.
	upApp := rawApp(t, func(c net.Conn) {
		readReqHead(c)
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(c, c)
	})
	_, addr2 := startRelay(t, DefaultConfig(), upApp, UpstreamOptions{})
	c = dial(t, addr2)
	send(t, c, "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"
	if got := string(readN(t, c, len(head))); got != head {
		t.Fatalf("upgrade head: %q", got)
	}
	send(t, c, "ping through the tunnel")
	if got := string(readN(t, c, len("ping through the tunnel"))); got != "ping through the tunnel" {
		t.Fatalf("tunnel echo: %q", got)
	}
}

// TestRelaySlowUploadThenMore: a request body that takes longer than the upstream timeout to
// arrive, but never stalls that long, goes through whole; and a small request after it is not
// caught by a deadline left over from it.
func TestRelaySlowUploadThenMore(t *testing.T) {
	t.Parallel()
	app := startApp(t, 0)
	_, addr := startRelay(t, DefaultConfig(), app.url, UpstreamOptions{Timeout: 300 * time.Millisecond})
	c := dial(t, addr)
	send(t, c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n")
	for i := range 10 { // 10 bytes over 700 ms: each write well within 300 ms, the whole not
		time.Sleep(70 * time.Millisecond)
		send(t, c, strconv.Itoa(i))
	}
	b := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := c.Read(b)
	if err != nil || !strings.Contains(string(b[:n]), "10 bytes\n") {
		t.Fatalf("slow upload: %q, %v", b[:n], err)
	}
	time.Sleep(400 * time.Millisecond) // past the deadline of the upload's last write
	send(t, c, "GET /after HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	got, _ := readUntilEnd(t, c, 3*time.Second)
	if !strings.Contains(string(got), "hello from the app: GET /after") {
		t.Fatalf("after the upload: %q", got)
	}
}

// TestRequestFaultsCounted: the server counts the injections that fail a request (request and
// response faults but delay) apart, by each kind's phase — idle closes and delays are not.
func TestRequestFaultsCounted(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, withFaults(t, "idle-close:timeout=50ms", "delay:head-delay=1ms,match=/slow", "rst-headers:match=/reset"))
	for _, path := range []string{"/slow", "/reset", "/"} {
		c := dial(t, addr)
		send(t, c, "GET "+path+" HTTP/1.1\r\nHost: t\r\n\r\n")
		readUntilEnd(t, c, 2*time.Second) // each ends with the idle close, or the reset
	}
	st := waitStats(t, s, "two idle closes", func(st Stats) bool { return st.Faults["idle-close"] == 2 })
	if n, ok := st.RequestFaults(); st.Faults["delay"] != 1 || st.Faults["rst-headers"] != 1 || !ok || n != 1 {
		t.Fatalf("faults %v, request faults %d (%v); want only the reset counted as failing a request", st.Faults, n, ok)
	}
}

// The relay relays HTTP/1.1 only: a config with http2 on is refused (an h2 client would get
// the server's own answers, not the app's), at New and when the config is replaced.
func TestRelayRefusesHTTP2(t *testing.T) {
	t.Parallel()
	up, err := ParseUpstream("http://127.0.0.1:1", UpstreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "the relay (in front of http://127.0.0.1:1) relays HTTP/1.1 only"
	if _, err := New(h2Config(DefaultConfig()), WithUpstream(up)); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New with http2: %v, want %q", err, want)
	}
	s, err := New(DefaultConfig(), WithUpstream(up))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig(h2Config(DefaultConfig())); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("SetConfig with http2: %v, want %q", err, want)
	}
	if s.Config().HTTP2 {
		t.Fatal("the refused config is served")
	}
}
