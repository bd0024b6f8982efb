package faultserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/uring"
)

// needSteady runs the test in parallel, where the platform has the steady path.
func needSteady(t *testing.T) {
	t.Helper()
	t.Parallel()
	if !steadySupported {
		t.Skip("no steady path on this platform")
	}
}

// onSteadyPath runs f on the steady path as it is by default (the poller); the same
// tests run through the io_uring in TestSteadyPathThroughIOUring.
func onSteadyPath(t *testing.T, f func(t *testing.T, opts ...Option)) {
	needSteady(t)
	f(t)
}

// TestSteadyPathThroughIOUring runs the steady path's tests, server and relay, with
// WithIOUring. It runs before the package's parallel tests, not beside them: several of
// those time a connection's idle gaps against the relay's watcher grace.
func TestSteadyPathThroughIOUring(t *testing.T) {
	if !steadySupported {
		t.Skip("no steady path on this platform")
	}
	needRing(t)
	ring := WithIOUring()
	for _, tc := range []struct {
		name string
		f    func(t *testing.T, opts ...Option)
	}{
		{"ServesKeepAliveRequests", steadyServesKeepAliveRequests},
		{"LeavesForWhatItCannotServe", steadyLeavesForWhatItCannotServe},
		{"SeesANewPlan", steadySeesANewPlan},
		{"Ends", steadyEnds},
		{"Shutdown", steadyShutdown},
		{"ChoosesFaultsAsTheGeneralLoop/server", func(t *testing.T, o ...Option) { steadyChoosesFaultsAsTheGeneralLoop(t, false, o...) }},
		{"ChoosesFaultsAsTheGeneralLoop/relay", func(t *testing.T, o ...Option) { steadyChoosesFaultsAsTheGeneralLoop(t, true, o...) }},
		{"CountsUnderConcurrency/server", func(t *testing.T, o ...Option) { steadyCountsUnderConcurrency(t, false, o...) }},
		{"CountsUnderConcurrency/relay", func(t *testing.T, o ...Option) { steadyCountsUnderConcurrency(t, true, o...) }},
		{"Relay", relaySteadyPath},
		{"RelayPassesTheAppsIdleCloseOn", relayPassesTheAppsIdleCloseOn},
		{"RelayFindsTheAppsFINThatCameBeforeTheRequest", relayFindsTheAppsFINThatCameBeforeTheRequest},
		{"LargeBodyToASlowReader", ringLargeBodyToASlowReader},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, ring) })
	}
}

// needRing skips where io_uring cannot be had.
func needRing(t *testing.T) {
	t.Helper()
	if _, err := New(DefaultConfig(), WithIOUring()); err != nil {
		if errors.Is(err, uring.ErrUnsupported) {
			t.Skipf("no io_uring here: %v", err)
		}
		t.Fatal(err)
	}
}

// withoutSteady makes every request take the general loop.
func withoutSteady(on bool) Option { return func(s *Server) { s.noSteady = on } }

// steadyServedAfter waits until the server's connections have left the steady loop and returns
// how many requests it answered.
func steadyServedAfter(t *testing.T, s *Server, want uint64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := s.stats.steadyServed.Load()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the steady path answered %d requests, want %d", got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Keep-alive requests after a connection's first are answered on the steady path, one
// request after another and pipelined; a head that comes in pieces leaves it for the general
// loop (which reads it under the header timeout) and is answered there.
func TestSteadyPathServesKeepAliveRequests(t *testing.T) {
	onSteadyPath(t, steadyServesKeepAliveRequests)
}

func steadyServesKeepAliveRequests(t *testing.T, opts ...Option) {
	s, addr, _ := startServerTLS(t, DefaultConfig(), false, opts...)
	c := dial(t, addr)
	for range 20 {
		send(t, c, getReq)
		if got := string(readN(t, c, len(okResponse))); got != okResponse {
			t.Fatalf("got %q", got)
		}
	}
	// After each answer the loop waited for the next request without a read that finds
	// nothing: only its first read, as the loop began, may have found nothing.
	c.Close()
	steadyServedAfter(t, s, 19)
	if m := s.stats.steadyMisses.Load(); m > 1 {
		t.Fatalf("%d reads on the steady path found nothing over 19 requests; want at most the first", m)
	}
	c = dial(t, addr)
	send(t, c, getReq)
	readN(t, c, len(okResponse))
	send(t, c, strings.Repeat(getReq, 5)) // pipelined
	if got := string(readN(t, c, 5*len(okResponse))); got != strings.Repeat(okResponse, 5) {
		t.Fatalf("pipelined: got %q", got)
	}
	send(t, c, "GET / HTTP/1.1\r\nHo") // a head in three pieces
	time.Sleep(20 * time.Millisecond)
	send(t, c, "st: t\r\n")
	time.Sleep(20 * time.Millisecond)
	send(t, c, "\r\n")
	if got := string(readN(t, c, len(okResponse))); got != okResponse {
		t.Fatalf("head in pieces: got %q", got)
	}
	c.CloseWrite()
	if _, err := readUntilEnd(t, c, time.Second); ending(err) != "EOF" {
		t.Fatalf("after the client's FIN: %s, want EOF", ending(err))
	}
	// all but each connection's first request and the one in pieces
	steadyServedAfter(t, s, 19+5)
	if got := s.stats.ringRecvs.Load(); s.useRing && got < 19+1 {
		// one read per request sent alone, one for the five pipelined
		t.Fatalf("the io_uring completed %d reads for the 24 steady requests; want at least 20", got)
	} else if !s.useRing && got != 0 {
		t.Fatalf("the io_uring completed %d reads on a server without it", got)
	}
	waitStats(t, s, "27 responses, the peers' FINs", func(st Stats) bool {
		return st.ResponsesCompleted == 27 && st.RequestsRead == 27 && st.Closes.PeerFIN == 2 && st.ConnectionsOpen == 0
	})
}

// A request the steady path does not serve (a body, Expect, a fault header) leaves it with
// the connection as it is; the general loop answers it, and the steady path takes the next.
func TestSteadyPathLeavesForWhatItCannotServe(t *testing.T) {
	onSteadyPath(t, steadyLeavesForWhatItCannotServe)
}

func steadyLeavesForWhatItCannotServe(t *testing.T, opts ...Option) {
	s, addr, _ := startServerTLS(t, DefaultConfig(), false, opts...)
	c := dial(t, addr)
	exchange := func(req, want string) {
		t.Helper()
		send(t, c, req)
		if got := string(readN(t, c, len(want))); got != want {
			t.Fatalf("%q: got %q, want %q", req, got, want)
		}
	}
	exchange(getReq, okResponse)
	exchange(getReq, okResponse) // steady
	// a body that comes after its head, a moment later
	send(t, c, "POST / HTTP/1.1\r\nHost: t\r\ncontent-LENGTH: 5\r\n\r\n")
	time.Sleep(20 * time.Millisecond)
	exchange("hello", okResponse)
	exchange(getReq, okResponse) // steady
	exchange("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", okResponse)
	send(t, c, "POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
	if got := string(readN(t, c, len("HTTP/1.1 100 Continue\r\n\r\n"))); got != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Fatalf("Expect: got %q", got)
	}
	exchange("hi", okResponse)
	send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: status;code=503\r\n\r\n")
	got, _ := readUntilEnd(t, c, 300*time.Millisecond)
	if !strings.HasPrefix(string(got), "HTTP/1.1 503 ") {
		t.Fatalf("fault header: got %q", got)
	}
	exchange(getReq, okResponse) // steady
	c.Close()
	steadyServedAfter(t, s, 3)
	waitStats(t, s, "the status fault and 8 responses", func(st Stats) bool {
		return st.Faults["status"] == 1 && st.ResponsesCompleted == 8 && st.ConnectionsOpen == 0
	})
}

// A connection waiting on the steady path takes the plan in force when its next request
// comes: a fault set meanwhile acts on it.
func TestSteadyPathSeesANewPlan(t *testing.T) { onSteadyPath(t, steadySeesANewPlan) }

func steadySeesANewPlan(t *testing.T, opts ...Option) {
	s, addr, _ := startServerTLS(t, DefaultConfig(), false, opts...)
	c := dial(t, addr)
	for range 3 {
		send(t, c, getReq)
		readN(t, c, len(okResponse))
	}
	if err := s.SetConfig(withFaults(t, "status:code=502,every=1")); err != nil {
		t.Fatal(err)
	}
	send(t, c, getReq)
	got, _ := readUntilEnd(t, c, 300*time.Millisecond)
	if !strings.HasPrefix(string(got), "HTTP/1.1 502 ") {
		t.Fatalf("after the new plan: got %q, want the 502 it injects", got)
	}
	waitStats(t, s, "the status fault counted", func(st Stats) bool { return st.Faults["status"] == 1 })
}

// The steady path's ends are counted as the general loop's: a close the request asks for, a
// request it cannot parse, the peer's RST, the server's idle timeout, a shutdown.
func TestSteadyPathEnds(t *testing.T) { onSteadyPath(t, steadyEnds) }

func steadyEnds(t *testing.T, opts ...Option) {
	cfg := DefaultConfig()
	cfg.Limits.IdleTimeout = 150e6
	s, addr, _ := startServerTLS(t, cfg, false, opts...)
	warm := func() *net.TCPConn {
		t.Helper()
		c := dial(t, addr)
		send(t, c, getReq)
		readN(t, c, len(okResponse))
		send(t, c, getReq) // on the steady path from here
		readN(t, c, len(okResponse))
		return c
	}

	c := warm()
	send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	if got, err := readUntilEnd(t, c, time.Second); !strings.HasPrefix(string(got), "HTTP/1.1 200 OK\r\n") || ending(err) != "EOF" {
		t.Fatalf("Connection: close: got %q, %s; want the answer, then EOF", got, ending(err))
	}
	waitStats(t, s, "1 server FIN", func(st Stats) bool { return st.Closes.ServerFIN == 1 })

	c = warm()
	send(t, c, "GET / HTTP/9.9\r\nHost: t\r\n\r\n")
	if got, err := readUntilEnd(t, c, time.Second); !strings.HasPrefix(string(got), "HTTP/1.1 505 ") || ending(err) != "EOF" {
		t.Fatalf("a bad version: got %q, %s; want 505, then EOF", got, ending(err))
	}
	waitStats(t, s, "1 bad request, 2 server FINs", func(st Stats) bool { return st.BadRequests == 1 && st.Closes.ServerFIN == 2 })

	c = warm()
	c.SetLinger(0)
	c.Close()
	waitStats(t, s, "1 peer RST", func(st Stats) bool { return st.Closes.PeerRST == 1 })

	c = warm()
	start := time.Now()
	if _, err := readUntilEnd(t, c, time.Second); ending(err) != "EOF" {
		t.Fatalf("idle: %s, want the server's FIN at its idle timeout", ending(err))
	}
	if el := time.Since(start); el < 130*time.Millisecond || el > 400*time.Millisecond {
		t.Fatalf("closed idle after %v, want ~150ms", el)
	}
	waitStats(t, s, "3 server FINs, none open", func(st Stats) bool {
		return st.Closes.ServerFIN == 3 && st.ConnectionsOpen == 0 && st.FaultsTotal() == 0
	})
	steadyServedAfter(t, s, 4+2) // the warm-ups' second requests, then Connection: close and the 505
}

// A shutdown ends a connection waiting on the steady path at once: Serve returns, the client
// sees the server's FIN.
func TestSteadyPathShutdown(t *testing.T) { onSteadyPath(t, steadyShutdown) }

func steadyShutdown(t *testing.T, opts ...Option) {
	s, err := New(DefaultConfig(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	c := dial(t, ln.Addr().String())
	for range 2 {
		send(t, c, getReq)
		readN(t, c, len(okResponse))
	}
	time.Sleep(20 * time.Millisecond) // waiting on the steady path
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve still running 2s after cancel with a connection idle on the steady path")
	}
	if _, err := readUntilEnd(t, c, time.Second); ending(err) != "EOF" {
		t.Fatalf("client saw %s, want EOF at shutdown", ending(err))
	}
	if st := s.Stats(); st.Closes.ServerFIN != 1 || st.ConnectionsOpen != 0 || s.stats.steadyServed.Load() != 1 {
		t.Fatalf("after shutdown: %+v, steady path served %d (want 1)", st, s.stats.steadyServed.Load())
	}
}

func TestSteadyHead(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{getReq, true},
		{"GET / HTTP/1.1\r\nHost: t\r\n", false}, // not all here
		{"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: t\r\ntransfer-encoding: chunked\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nEXPECT: 100-continue\r\nHost: t\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: status\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nX-Content-Length: 5\r\nHost: content-length\r\n\r\n", true},         // names, not values
		{"GET / HTTP/1.1\r\nHost: t\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", true}, // the first head only
	} {
		br := bufio.NewReaderSize(strings.NewReader(tc.in), 4096)
		br.Peek(1)
		if got := steadyHead(br); got != tc.want {
			t.Errorf("steadyHead(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// The steady path chooses faults as the general loop does, with the same draws in the same
// order: a seeded plan of idle, request and response faults gives the same outcome to every
// request either way.
// In relay mode (an app that answers as the server does) the same holds, with the faults that
// act on the app's answer too.
func TestSteadyPathChoosesFaultsAsTheGeneralLoop(t *testing.T) {
	needSteady(t)
	for _, relay := range []bool{false, true} {
		t.Run(map[bool]string{false: "server", true: "relay"}[relay], func(t *testing.T) {
			t.Parallel()
			steadyChoosesFaultsAsTheGeneralLoop(t, relay)
		})
	}

}

func steadyChoosesFaultsAsTheGeneralLoop(t *testing.T, relay bool, steadyOpts ...Option) {
	run := func(noSteady bool) (string, Stats) {
		cfg := withFaults(t,
			"idle-close:timeout=1h,probability=0.2", // chosen now and then; never acts (draws only)
			"close-on-reuse:probability=0.15",
			"status:code=503,probability=0.25",
			"cut-body:after-bytes=1,probability=0.1",
			"rst-headers:probability=0.05")
		cfg.Seed = 7
		opts := []Option{withoutSteady(noSteady)}
		if !noSteady {
			opts = append(opts, steadyOpts...)
		}
		if relay {
			opts = append(opts, relayTo(t, okApp(t)))
		}
		s, addr, _ := startServerTLS(t, cfg, false, opts...)
		var out strings.Builder
		var c *net.TCPConn
		buf := make([]byte, 4096)
		for range 80 {
			if c == nil {
				c = dial(t, addr)
			}
			send(t, c, getReq)
			var got []byte
			var err error
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			for err == nil && string(got) != okResponse && !(strings.HasPrefix(string(got), "HTTP/1.1 503 ") && strings.HasSuffix(string(got), "503\n")) {
				var n int
				n, err = c.Read(buf)
				got = append(got, buf[:n]...)
			}
			switch {
			case err == nil && string(got) == okResponse:
				out.WriteByte('.')
			case err == nil:
				out.WriteByte('s')
			case len(got) > 0 && ending(err) != "timeout":
				out.WriteByte('c') // cut
			case ending(err) != "timeout":
				out.WriteByte('x') // closed on reuse
			default:
				t.Fatalf("request %d: %q, %v", out.Len(), got, err)
			}
			if err != nil {
				c.Close()
				c = nil
			}
		}
		if c != nil {
			c.Close()
		}
		if got := s.stats.steadyServed.Load(); noSteady != (got == 0) {
			t.Fatalf("noSteady %v: the steady path took %d requests", noSteady, got)
		}
		return out.String(), s.Stats()
	}
	general, gs := run(true)
	steady, ss := run(false)
	t.Logf("outcomes: %s", steady)
	if general != steady {
		t.Fatalf("outcomes per request:\ngeneral loop %s\nsteady path  %s", general, steady)
	}
	for _, k := range []string{"close-on-reuse", "status", "cut-body", "rst-headers"} {
		if gs.Faults[k] == 0 || gs.Faults[k] != ss.Faults[k] {
			t.Errorf("%s injected %d times on the general loop, %d on the steady path (want the same, not 0)", k, gs.Faults[k], ss.Faults[k])
		}
	}
	if n := strings.Count(steady, "."); n < 20 {
		t.Errorf("only %d of 80 requests answered normally: %s", n, steady)
	}
}

// Under concurrent connections mixing what the steady path serves and what it leaves (bodies,
// pipelined pairs, heads in pieces) and faults that answer or cut, every request the clients
// sent is accounted for by the server's counters, and every fault the server counts is one a
// client met.
//
// In relay mode too, with an app that answers as the server does.
func TestSteadyPathCountsUnderConcurrency(t *testing.T) {
	needSteady(t)
	for _, relay := range []bool{false, true} {
		t.Run(map[bool]string{false: "server", true: "relay"}[relay], func(t *testing.T) {
			t.Parallel()
			steadyCountsUnderConcurrency(t, relay)
		})
	}

}

func steadyCountsUnderConcurrency(t *testing.T, relay bool, opts ...Option) {
	cfg := withFaults(t, "status:code=503,probability=0.1", "cut-body:after-bytes=1,probability=0.05")
	cfg.Seed = 3
	opts = append([]Option(nil), opts...)
	if relay {
		opts = append(opts, relayTo(t, okApp(t)))
	}
	s, addr, _ := startServerTLS(t, cfg, false, opts...)
	const conns, perConn = 40, 30
	type tally struct{ sent, ok, status, cut int }
	results := make(chan tally, conns)
	for i := range conns {
		go func() {
			var tl tally
			defer func() { results <- tl }()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer func() { c.Close() }()
			br := bufio.NewReader(c)
			for tl.sent < perConn {
				reqs := 1
				switch rng.IntN(6) {
				case 0:
					_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
				case 1:
					reqs = 2
					_, err = io.WriteString(c, getReq+getReq)
				case 2:
					if _, err = io.WriteString(c, "GET / HTTP/1.1\r\nHo"); err == nil {
						time.Sleep(time.Millisecond)
						_, err = io.WriteString(c, "st: t\r\n\r\n")
					}
				default:
					_, err = io.WriteString(c, getReq)
				}
				if err != nil {
					t.Errorf("write: %v", err)
					return
				}
				tl.sent += reqs
				for j := range reqs {
					c.SetReadDeadline(time.Now().Add(2 * time.Second))
					resp, err := http.ReadResponse(br, nil)
					if err == nil {
						_, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					switch {
					case err != nil && resp != nil: // the body cut short
						tl.cut++
					case err != nil:
						t.Errorf("connection %d: %v", i, err)
						return
					case resp.StatusCode == 503:
						tl.status++
					default:
						tl.ok++
					}
					if err != nil {
						// a pipelined request after the cut one died with the connection unread
						tl.sent -= reqs - 1 - j
						c.Close()
						if c, err = net.Dial("tcp", addr); err != nil {
							t.Error(err)
							return
						}
						br = bufio.NewReader(c)
						break
					}
				}
			}
		}()
	}
	var all tally
	for range conns {
		tl := <-results
		all.sent, all.ok, all.status, all.cut = all.sent+tl.sent, all.ok+tl.ok, all.status+tl.status, all.cut+tl.cut
	}
	if t.Failed() {
		return
	}
	if all.ok+all.status+all.cut != all.sent {
		t.Fatalf("clients: %+v: answers do not add up to the requests", all)
	}
	if all.status == 0 || all.cut == 0 || s.stats.steadyServed.Load() == 0 {
		t.Fatalf("clients: %+v, steady path took %d: want both faults met and the steady path used", all, s.stats.steadyServed.Load())
	}
	waitStats(t, s, "the clients' counts", func(st Stats) bool {
		return st.Faults["status"] == uint64(all.status) && st.Faults["cut-body"] == uint64(all.cut) &&
			st.RequestsRead == uint64(all.sent) && st.ConnectionsOpen == 0
	})
}
