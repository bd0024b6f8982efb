package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/results"
)

// origin starts an in-process fault server with the given fault specs, on a plain and a TLS
// loopback listener.
func origin(t *testing.T, specs ...string) (s *faultserver.Server, httpAddr, tlsAddr string) {
	t.Helper()
	return faultservertest.OriginBoth(t, specs...)
}

func run(t *testing.T, cfg Config) *results.Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Validate(); err != nil {
		t.Fatalf("inconsistent result: %v", err)
	}
	return res
}

// classCounts renders a result's outcome counts as "class:n ..." in report order.
func classCounts(r *results.Result) string {
	s := ""
	for _, c := range results.Classes() {
		if n := r.Count(c); n > 0 {
			s += fmt.Sprintf("%s:%d ", c, n)
		}
	}
	return s
}

func TestEveryOutcomeClassForReal(t *testing.T) {
	t.Parallel()
	const keep, perRequest = 1, 4 // connections opened for 4 requests: kept alive, or one each
	for _, tc := range []struct {
		name    string
		faults  []string
		tls     bool          // request https:// from the TLS listener
		timeout time.Duration // per-request timeout (default 2s)
		// 4 requests on one connection slot, in order; a fault that closes the connection
		// makes the next request open a fresh one.
		want   string
		opened int64
		// errReused: whether the failed requests went out on reused connections.
		errReused bool
	}{
		{name: "ok", want: "ok:4 ", opened: keep},
		{name: "4xx", faults: []string{"status:code=404"}, want: "4xx:4 ", opened: keep, errReused: true},
		{name: "502", faults: []string{"status:code=502"}, want: "502:4 ", opened: keep, errReused: true},
		{name: "503", faults: []string{"status:code=503"}, want: "503:4 ", opened: keep, errReused: true},
		{name: "504", faults: []string{"status:code=504"}, want: "504:4 ", opened: keep, errReused: true},
		{name: "5xx", faults: []string{"status:code=500"}, want: "5xx:4 ", opened: keep, errReused: true},
		{name: "no-response on fresh connections", faults: []string{"no-response"}, want: "no-response:4 ", opened: perRequest},
		{name: "no-response on reused connections", faults: []string{"close-on-reuse"}, want: "ok:2 no-response:2 ", opened: 2, errReused: true},
		{name: "reset on fresh connections", faults: []string{"no-response:close=rst"}, want: "reset:4 ", opened: perRequest},
		{name: "reset on reused connections", faults: []string{"close-on-reuse:close=rst"}, want: "ok:2 reset:2 ", opened: 2, errReused: true},
		{name: "truncated: reset mid-head", faults: []string{"rst-headers:after-bytes=20"}, want: "truncated:4 ", opened: perRequest},
		{name: "truncated: short Content-Length body", faults: []string{"cut-body"}, want: "truncated:4 ", opened: perRequest},
		{name: "truncated: chunked without last chunk", faults: []string{"cut-body:chunked=true,close=rst"}, want: "truncated:4 ", opened: perRequest},
		{name: "timeout", faults: []string{"delay:head-delay=1s"}, timeout: 100 * time.Millisecond, want: "timeout:4 ", opened: perRequest},
		{name: "timeout: body drips past the deadline", faults: []string{"delay:body-rate=10"}, timeout: 150 * time.Millisecond, want: "timeout:4 ", opened: perRequest},
		{name: "tls-error: handshake stalls", faults: []string{"tls-stall"}, tls: true, timeout: 100 * time.Millisecond, want: "tls-error:4 "},
		{name: "ok over TLS", tls: true, want: "ok:4 ", opened: keep},
	} {
		for _, method := range []string{"GET", "POST"} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				t.Parallel()
				s, addr, tlsAddr := origin(t, tc.faults...)
				url := "http://" + addr + "/"
				if tc.tls {
					url = "https://" + tlsAddr + "/"
				}
				timeout := tc.timeout
				if timeout == 0 {
					timeout = 2 * time.Second
				}
				body := 0
				if method == "POST" {
					body = 100
				}
				res := run(t, Config{URL: url, Insecure: true, Method: method, BodySize: body, Connections: 1,
					Requests: 4, Timeout: yd(timeout)})
				if got := classCounts(res); got != tc.want {
					t.Fatalf("outcomes %q, want %q", got, tc.want)
				}
				if res.Connections.Opened != tc.opened {
					t.Fatalf("%d connections opened, want %d", res.Connections.Opened, tc.opened)
				}
				wantReused := map[int64]int64{keep: 3, 2: 2, perRequest: 0, 0: 0}[tc.opened]
				if res.Connections.ReusedRequests != wantReused {
					t.Fatalf("%d requests on reused connections, want %d", res.Connections.ReusedRequests, wantReused)
				}
				// No hidden retry: the origin saw exactly the requests the client sent.
				st := s.Stats()
				switch {
				case tc.want == "tls-error:4 ":
					if st.Faults["tls-stall"] != 4 || st.RequestsStarted != 0 {
						t.Fatalf("origin: %d stalled handshakes, %d requests; want 4 and 0", st.Faults["tls-stall"], st.RequestsStarted)
					}
				case st.RequestsStarted != 4:
					t.Fatalf("origin saw %d requests for 4 sent: the client retried (or lost) some", st.RequestsStarted)
				}
				for c, exs := range res.Exemplars {
					if int64(len(exs)) != res.Count(c) {
						t.Fatalf("%d %s exemplars for %d requests", len(exs), c, res.Count(c))
					}
					reused := 0
					for _, e := range exs {
						if e.Reused {
							reused++
						}
						if isStatus := c <= results.Status5xx; isStatus != (e.Status != 0) || !isStatus && e.Error == "" {
							t.Fatalf("%s exemplar must carry the status (status classes) or the raw error (the rest): %+v", c, e)
						}
						if e.BytesWritten == 0 && c != results.TLSError {
							t.Fatalf("%s exemplar wrote nothing: %+v", c, e)
						}
					}
					want := 0
					switch {
					case tc.opened == keep:
						want = len(exs) - 1 // only the first request opened the connection
					case tc.errReused:
						want = len(exs) // close-on-reuse: every failure was on a reuse
					}
					if reused != want {
						t.Fatalf("%d of %d %s exemplars reused, want %d", reused, len(exs), c, want)
					}
				}
			})
		}
	}
}

func TestConnectErrorAndMalformed(t *testing.T) {
	t.Parallel()
	t.Run("connect-error", func(t *testing.T) {
		t.Parallel()
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close() // nothing listens: connection refused
		res := run(t, Config{URL: "http://" + addr + "/", Connections: 1, Requests: 3})
		if got := classCounts(res); got != "connect-error:3 " {
			t.Fatalf("outcomes %q", got)
		}
		if e := res.Exemplars[results.ConnectError][0]; e.Error == "" || e.ConnID != 0 {
			t.Fatalf("connect-error exemplar %+v", e)
		}
	})
	t.Run("tls-error: plain HTTP server", func(t *testing.T) {
		t.Parallel()
		_, addr, _ := origin(t)
		res := run(t, Config{URL: "https://" + addr + "/", Connections: 1, Requests: 2})
		if got := classCounts(res); got != "tls-error:2 " {
			t.Fatalf("outcomes %q", got)
		}
	})
	t.Run("tls-error: untrusted certificate without --insecure", func(t *testing.T) {
		t.Parallel()
		_, _, tlsAddr := origin(t)
		res := run(t, Config{URL: "https://" + tlsAddr + "/", Connections: 1, Requests: 1})
		if got := classCounts(res); got != "tls-error:1 " {
			t.Fatalf("outcomes %q", got)
		}
	})
	for _, tc := range []struct{ name, reply string }{
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n"},
		{"status out of range", "HTTP/1.1 042 Odd\r\nContent-Length: 0\r\n\r\n"},
		{"bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
	} {
		t.Run("malformed: "+tc.name, func(t *testing.T) {
			t.Parallel()
			addr := rawServer(t, tc.reply)
			res := run(t, Config{URL: "http://" + addr + "/", Connections: 1, Requests: 2})
			if got := classCounts(res); got != "malformed:2 " {
				t.Fatalf("outcomes %q", got)
			}
		})
	}
}

// rawServer answers every connection's first request with reply, then closes.
func rawServer(t *testing.T, reply string) string {
	return serveConns(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.Read(buf)
		io.WriteString(c, reply)
	})
}

// serveConns hands each connection accepted on a loopback port to handle (and closes it
// after); it returns the port's address.
func serveConns(t *testing.T, handle func(net.Conn)) string {
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
	return ln.Addr().String()
}

func yd(d time.Duration) yamlconf.Duration { return yamlconf.Duration(d) }
