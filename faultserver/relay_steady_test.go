package faultserver

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// okApp is an app that answers every request, its body read, with the fault server's own
// canned answer (okResponse): answers through a relay in front of it compare with the
// server's own.
func okApp(t testing.TB) string {
	return rawApp(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, okResponse); err != nil {
				return
			}
		}
	})
}

// relayTo makes a test server a relay in front of the app at url.
func relayTo(t testing.TB, url string) Option {
	up, err := ParseUpstream(url, UpstreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return WithUpstream(up)
}

// In relay mode a connection's keep-alive requests after its first take the steady path too,
// and every request that goes to the app in one write is sent inside the wait for its answer
// (sendAwait), which one read takes: no read that finds nothing first.
func TestRelaySteadyPath(t *testing.T) { onSteadyPath(t, relaySteadyPath) }

func relaySteadyPath(t *testing.T, opts ...Option) {
	s, addr, _ := startServerTLS(t, DefaultConfig(), false, append(opts, relayTo(t, okApp(t)))...)
	c := dial(t, addr)
	for range 10 {
		send(t, c, getReq)
		if got := string(readN(t, c, len(okResponse))); got != okResponse {
			t.Fatalf("got %q", got)
		}
	}
	// Pipelined: after any request the general loop answers, the steady loop takes those that
	// are buffered, whatever the timing.
	send(t, c, strings.Repeat(getReq, 5))
	if got := string(readN(t, c, 5*len(okResponse))); got != strings.Repeat(okResponse, 5) {
		t.Fatalf("pipelined: got %q", got)
	}
	c.Close()
	waitStats(t, s, "the connection ended", func(st Stats) bool {
		return st.ConnectionsOpen == 0 && st.Relay.ConnectionsOpen == 0
	})
	st := s.Stats()
	if st.Relay.RequestsForwarded != 15 || st.Relay.ResponsesRelayed != 15 || st.Relay.ConnectionsOpened != 1 {
		t.Fatalf("relay counts %+v; want 15 requests forwarded and relayed over one app connection", st.Relay)
	}
	if n := s.stats.steadyServed.Load(); n < 4 {
		t.Errorf("the steady path answered %d requests; want at least the 4 pipelined after one the general loop took", n)
	}
	if n, m, k := s.stats.awaited.Load(), s.stats.awaitMisses.Load(), s.stats.awaitChecks.Load(); n != 15 || m > 2 || k > 2 {
		t.Errorf("%d of 15 answers waited for inside the send's wait, %d reads found nothing, %d answer checks; want 15, at most 2 and at most 2", n, m, k)
	}
}

// A 101 that answers a request on the steady path: the tunnel starts when the loop's wait has
// ended (it reads the connection), and carries bytes both ways.
func TestRelaySteadyPathTunnel(t *testing.T) {
	needSteady(t)
	app := rawApp(t, func(c net.Conn) {
		readReqHead(c)
		io.WriteString(c, okResponse)
		readReqHead(c)
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(c, c)
	})
	s, addr, _ := startServerTLS(t, DefaultConfig(), false, relayTo(t, app))
	c := dial(t, addr)
	// pipelined behind the first request, which the general loop answers: the steady loop
	// takes the upgrade
	send(t, c, getReq+"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"
	if got := string(readN(t, c, len(okResponse)+len(head))); got != okResponse+head {
		t.Fatalf("answers: %q", got)
	}
	for _, msg := range []string{"ping through the tunnel", "and again"} {
		send(t, c, msg)
		if got := string(readN(t, c, len(msg))); got != msg {
			t.Fatalf("tunnel echo: %q", got)
		}
	}
	c.Close()
	waitStats(t, s, "the tunnel ended", func(st Stats) bool { return st.ConnectionsOpen == 0 })
	if n := s.stats.steadyServed.Load(); n != 1 {
		t.Errorf("the steady path took %d requests; want the upgrade", n)
	}
}

// A relay fault chosen on the steady path acts (after the loop's wait, where a fault may read,
// wait and close): delay holds the app's answer for its time on a keep-alive request, and the
// connection goes on. (This delay would act inside the wait too: no test here tells where.)
func TestRelaySteadyPathDelay(t *testing.T) {
	needSteady(t)
	s, addr, _ := startServerTLS(t, withFaults(t, "delay:head-delay=100ms,nth=3"), false, relayTo(t, okApp(t)))
	c := dial(t, addr)
	// nth=3: the third request on the connection; sent pipelined with the second, so the
	// steady loop chooses the fault
	send(t, c, getReq)
	readN(t, c, len(okResponse))
	start := time.Now()
	send(t, c, getReq+getReq+getReq)
	if got := string(readN(t, c, 3*len(okResponse))); got != strings.Repeat(okResponse, 3) {
		t.Fatalf("got %q", got)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("answers after %s; want the third held 100ms", took)
	}
	c.Close()
	waitStats(t, s, "delay counted", func(st Stats) bool { return st.Faults["delay"] == 1 && st.ConnectionsOpen == 0 })
	if n := s.stats.steadyServed.Load(); n < 2 {
		t.Errorf("the steady path took %d requests; want the pipelined ones after the one the general loop took", n)
	}
}

// The app closes its idle connection while the downstream one waits on the steady path after
// a request answered without the app (a status fault) that came after a wait long enough for
// the watcher to take the app connection: the close is passed on when it comes, not when the
// next request does.
func TestRelaySteadyPathPassesTheAppsIdleCloseOn(t *testing.T) {
	onSteadyPath(t, relayPassesTheAppsIdleCloseOn)
}

func relayPassesTheAppsIdleCloseOn(t *testing.T, opts ...Option) {
	app := rawApp(t, func(c net.Conn) {
		readReqHead(c)
		io.WriteString(c, okResponse)
		time.Sleep(300 * time.Millisecond) // the app's keep-alive timeout
	})
	s, addr, _ := startServerTLS(t, withFaults(t, "status:code=503,nth=2"), false, append(opts, relayTo(t, app))...)
	c := dial(t, addr)
	send(t, c, getReq)
	if got := string(readN(t, c, len(okResponse))); got != okResponse {
		t.Fatalf("got %q", got)
	}
	time.Sleep(50 * time.Millisecond) // past the watcher's grace: it takes the app connection
	send(t, c, getReq)
	start := time.Now()
	got, err := readUntilEnd(t, c, 2*time.Second)
	if !strings.HasPrefix(string(got), "HTTP/1.1 503 ") || ending(err) != "EOF" {
		t.Fatalf("got %q then %s; want the 503, then the app's close passed on", got, ending(err))
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("the app's close came through after %s; want it when the app closed (~250ms)", took)
	}
	waitStats(t, s, "the app's idle close counted", func(st Stats) bool { return st.Relay.AppClosedIdle == 1 })
}

// The app half-closes its connection right after an answer (a lingering close, as Apache
// makes: FIN, then it reads on for a while) and the next request comes at once, before the
// watcher takes the app connection: the relay sends it and must find the app's FIN, which
// came before the wait for the answer began (a readiness cleared when that wait began), and
// pass the close on at once — not wait for an answer that cannot come until the upstream
// timeout turns it into a 504.
func TestRelayFindsTheAppsFINThatCameBeforeTheRequest(t *testing.T) {
	onSteadyPath(t, relayFindsTheAppsFINThatCameBeforeTheRequest)
}

func relayFindsTheAppsFINThatCameBeforeTheRequest(t *testing.T, opts ...Option) {
	app := rawApp(t, func(c net.Conn) {
		readReqHead(c)
		io.WriteString(c, okResponse)
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c) // reads on, never answers
	})
	s, addr := startRelay(t, DefaultConfig(), app, UpstreamOptions{Timeout: 3 * time.Second}, opts...)
	for i := range 5 {
		c := dial(t, addr)
		send(t, c, getReq)
		if got := string(readN(t, c, len(okResponse))); got != okResponse {
			t.Fatalf("got %q", got)
		}
		if i%2 == 1 {
			time.Sleep(time.Millisecond) // the FIN is surely there; else it may race the request
		}
		send(t, c, getReq)
		start := time.Now()
		got, err := readUntilEnd(t, c, 2*time.Second)
		if len(got) != 0 || ending(err) != "EOF" || time.Since(start) > time.Second {
			t.Fatalf("second request: got %q then %s after %s; want the app's close passed on at once (EOF, no answer)",
				got, ending(err), time.Since(start).Round(time.Millisecond))
		}
		c.Close()
	}
	waitStats(t, s, "app closes counted", func(st Stats) bool {
		return st.Relay.AppClosedIdle+st.Relay.AppErrors.Closed == 5 && st.FaultsTotal() == 0
	})
	// The two FINs surely there before the request went out woke no wait: the answer check
	// found them. (The ring's read finds them at once: it has no answer check.)
	if k := s.stats.awaitChecks.Load(); k < 2 && !s.useRing {
		t.Errorf("%d answer checks; want at least the 2 that found a FIN from before the request", k)
	}
}

// A relay goroutine that does not run between setting the answer check's deadline and its
// wait (a loaded machine) finds the deadline passed before the request went out: the request
// still goes out, and the answer is relayed — not a timeout the app never caused.
func TestRelaySendsWhenTheCheckPassedBeforeTheWait(t *testing.T) {
	needSteady(t)
	if testRing {
		t.Skip("the poller's answer check; the ring has none")
	}
	up, err := ParseUpstream(okApp(t), UpstreamOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	up.beforeWait = func() {
		if calls.Add(1) == 1 {
			time.Sleep(3 * answerCheck)
		}
	}
	s, addr, _ := startServerTLS(t, DefaultConfig(), false, WithUpstream(up))
	c := dial(t, addr)
	for i := range 2 {
		start := time.Now()
		send(t, c, getReq)
		if got := string(readN(t, c, len(okResponse))); got != okResponse || time.Since(start) > time.Second {
			t.Fatalf("request %d: got %q after %s; want the app's answer", i, got, time.Since(start).Round(time.Millisecond))
		}
	}
	c.Close()
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d of 2 requests went through sendAwait", n)
	}
	waitStats(t, s, "2 answers relayed", func(st Stats) bool { return st.Relay.ResponsesRelayed == 2 })
	if st := s.Stats(); st.Relay.AppErrors != (results.AppErrors{}) {
		t.Fatalf("app errors %+v; want none", st.Relay.AppErrors)
	}
}
