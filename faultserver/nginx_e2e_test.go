//go:build unix

package faultserver_test

// End-to-end: the fault server behind a real nginx, showing that its faults turn into exactly
// the failures users see in production. These start a real nginx process; without an nginx
// binary they skip, unless GATECRASH_E2E=require (CI), where they fail.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
)

func startOrigin(t *testing.T, specs ...string) (*faultserver.Server, string) {
	t.Helper()
	return faultservertest.Origin(t, specs...)
}

// nginx is a running nginx process under test: the built-in template, keep-alive to the
// origin (16 idle connections kept 60 s).
type nginx struct {
	addr, dir string
}

func (n *nginx) errorLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dir, "error.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startNginx runs nginx in front of origin and stops it (and every worker) when the test
// ends.
func startNginx(t *testing.T, origin string) *nginx {
	t.Helper()
	e2e.Need(t, proxy.Nginx)
	addr, err := proxy.FreeListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := proxy.Start(context.Background(), proxy.Config{Spec: proxy.Spec{Kind: proxy.Nginx}, Origins: []string{origin},
		Listen: addr, RunDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return &nginx{addr: addr, dir: dir}
}

// client is a keep-alive HTTP/1.1 client on one connection that never retries.
type client struct {
	t    *testing.T
	addr string
	c    net.Conn
	br   *bufio.Reader
}

// do sends one request and returns the status (0 when the connection failed instead).
func (cl *client) do(method string) int {
	cl.t.Helper()
	if cl.c == nil {
		c, err := net.Dial("tcp", cl.addr)
		if err != nil {
			cl.t.Fatal(err)
		}
		cl.c, cl.br = c, bufio.NewReader(c)
	}
	body := ""
	if method == "POST" {
		body = "payload"
	}
	fmt.Fprintf(cl.c, "%s / HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s", method, len(body), body)
	cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(cl.br, nil)
	if err != nil {
		cl.c.Close()
		cl.c = nil
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		cl.c.Close()
		cl.c = nil
	}
	return resp.StatusCode
}

func TestNginxCloseOnReuse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method     string
		wantStatus int
		// what the origin read: the first request, the faulted one, and nginx's retry of it
		wantRead uint64
	}{
		{"POST", 502, 2}, // non-idempotent: nginx does not retry, the client gets 502
		{"GET", 200, 3},  // idempotent: nginx retries on a new connection, the client sees 200
	} {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			origin, oaddr := startOrigin(t, "close-on-reuse")
			ng := startNginx(t, oaddr)
			cl := &client{t: t, addr: ng.addr}
			if got := cl.do(tc.method); got != 200 {
				t.Fatalf("first request (fresh upstream connection): %d", got)
			}
			if got := cl.do(tc.method); got != tc.wantStatus {
				t.Fatalf("request on the reused upstream connection: %d, want %d", got, tc.wantStatus)
			}
			st := origin.Stats()
			if st.Faults["close-on-reuse"] != 1 || st.RequestsRead != tc.wantRead {
				t.Fatalf("origin ground truth %+v: want 1 close-on-reuse and %d requests read", st, tc.wantRead)
			}
			if log := ng.errorLog(t); !strings.Contains(log, "upstream prematurely closed connection while reading response header from upstream") {
				t.Fatalf("nginx error log lacks the premature-close line:\n%s", log)
			}
		})
	}
}

// TestNginxIdleCloseRace is failure F1 for real: nginx keeps upstream connections 60s, the
// origin closes them after 40ms idle, and one client connection sweeps the gap between its
// requests across 40ms ± 3ms so that nginx's reuse and the origin's close cross.
func TestNginxIdleCloseRace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method string }{{"POST"}, {"GET"}} {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			const timeout, spread, maxRequests = 40 * time.Millisecond, 3 * time.Millisecond, 600
			origin, oaddr := startOrigin(t, "idle-close:timeout=40ms")
			ng := startNginx(t, oaddr)
			cl := &client{t: t, addr: ng.addr}
			statuses := map[int]int{}
			sent := 0
			for i := 0; i < maxRequests; i++ {
				statuses[cl.do(tc.method)]++
				sent++
				// POST: stop at the first few 502s. GET: stop once nginx has logged the race
				// (and so retried); the origin may never see the failed attempt, because its
				// bytes arrived after the origin's close.
				if tc.method == "POST" && statuses[502] >= 3 ||
					tc.method == "GET" && i%10 == 9 && raceLogged(ng.errorLog(t)) {
					break
				}
				step := time.Duration(i%61-30) * spread / 30 // -3ms .. +3ms in 0.1ms steps
				time.Sleep(timeout + step)
			}
			st := origin.Stats()
			log := ng.errorLog(t)
			raced := raceLogged(log)
			t.Logf("%s: %d requests, client statuses %v, origin: %d started, %d idle-close faults", tc.method, sent,
				statuses, st.RequestsStarted, st.Faults["idle-close"])
			switch tc.method {
			case "POST":
				if statuses[502] == 0 || !raced {
					t.Fatalf("no 502 (or no nginx log line) in %d POSTs across the idle-timeout race: %v", sent, statuses)
				}
				if st.Faults["idle-close"] < uint64(statuses[502]) {
					t.Fatalf("%d 502s but the origin only closed %d idle connections", statuses[502], st.Faults["idle-close"])
				}
			case "GET":
				if statuses[200] != sent {
					t.Fatalf("GET through nginx should always succeed (nginx retries): %v", statuses)
				}
				if !raced || st.Faults["idle-close"] == 0 {
					t.Fatalf("the race was never hit in %d GETs (nginx log line: %v, origin idle closes: %d)", sent, raced,
						st.Faults["idle-close"])
				}
			}
		})
	}
}

// raceLogged reports whether nginx logged a failure on a reused upstream connection.
func raceLogged(log string) bool {
	return strings.Contains(log, "upstream prematurely closed connection") ||
		strings.Contains(log, "(104: Connection reset by peer) while reading response header")
}
