package faultserver

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"testing"
	"time"
)

// loopReader returns the same bytes forever.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(b []byte) (int, error) {
	n := copy(b, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// BenchmarkServeRequest measures the per-request path of a keep-alive connection: parse a
// typical proxied request head, pick no fault, write the canned response.
func BenchmarkServeRequest(b *testing.B) {
	for _, bc := range []struct {
		name   string
		req    string
		faults []string
	}{
		{"get", "GET /api/items?id=42 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n", nil},
		{"post-1k", "POST /api HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\n\r\n" + string(bytes.Repeat([]byte("x"), 1024)), nil},
		{"get-with-faults-not-firing", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", []string{"idle-close:timeout=5s,nth=1000", "rst-headers:match=/never", "status:code=500,every=1000000000"}},
		// A fault that fires on every request and keeps the connection: the steady path of an
		// injected fault (selection, the ground-truth count and event, the faulted answer).
		{"get-status-fault-firing", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", []string{"status:code=503"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, c := loopConn(b, bc.req, bc.faults...)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.req)))
			b.ResetTimer()
			for range b.N {
				if !c.serveRequest() {
					b.Fatal("connection closed")
				}
			}
			b.StopTimer()
			if len(bc.faults) == 1 {
				if got := s.Stats().Faults[kindOf(s.plan.Load().cfg.Faults[0]).name]; got != uint64(b.N) {
					b.Fatalf("%d faults injected in %d requests, want one each", got, b.N)
				}
			}
		})
	}
}

// loopConn is a keep-alive connection of a server with these faults (command-line form)
// whose peer sends req over and over; its responses go nowhere.
func loopConn(tb testing.TB, req string, faults ...string) (*Server, *conn) {
	tb.Helper()
	cfg := DefaultConfig()
	for _, spec := range faults {
		f, err := ParseFaultSpec(spec)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	sc := &scriptConn{r: &loopReader{data: []byte(req)}}
	c := s.newConn(context.Background(), sc)
	c.br = bufio.NewReaderSize(sc, readBufSize)
	c.plan = s.plan.Load()
	return s, c
}

// An injected fault that keeps the connection (a status answer here) allocates nothing once
// the event log has reached its size: the selection, the ground-truth count, the event (the
// peer's address is written once per connection) and the faulted answer.
func TestInjectedFaultAllocatesNothing(t *testing.T) {
	s, c := loopConn(t, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "status:code=503")
	for range EventLogSize { // the log's ring grows to its size once
		if !c.serveRequest() {
			t.Fatal("connection closed")
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if !c.serveRequest() {
			t.Fatal("connection closed")
		}
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per injected fault, want 0", allocs)
	}
	if got := s.Stats().Faults["status"]; got != EventLogSize+1001 {
		t.Errorf("%d status faults counted, want %d", got, EventLogSize+1001)
	}
}

func BenchmarkReadHead(b *testing.B) {
	req := []byte("GET /api/items?id=42 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
	br := bufio.NewReaderSize(&loopReader{data: req}, readBufSize)
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for range b.N {
		if err := readHead(br, &r, DefaultMaxHeaderBytes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRelay measures the relay's steady path over loopback, as a proxy drives it: one
// keep-alive connection, a request written, the app's answer read back. The client and the
// stand-in app allocate nothing, so allocs/op is the relay's own (the goal: 0).
func BenchmarkRelay(b *testing.B) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"
	respBytes := []byte(resp)
	req := []byte("GET /api/items?id=42 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n")
	app := rawApp(b, func(c net.Conn) {
		buf := make([]byte, 4096)
		var got int
		for {
			n, err := c.Read(buf[got:])
			if err != nil {
				return
			}
			got += n
			if got >= len(req) { // one request (the benchmark sends one at a time)
				got = 0
				if _, err := c.Write(respBytes); err != nil {
					return
				}
			}
		}
	})
	up, err := ParseUpstream(app, UpstreamOptions{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(nil, WithUpstream(up))
	if err != nil {
		b.Fatal(err)
	}
	c, roundTrip := loopbackClient(b, s, req, len(resp))
	defer c.Close()
	roundTrip() // the app connection is opened by the first request
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		roundTrip()
	}
	b.StopTimer()
	// counted just after the answer's bytes went out: the client may read them first
	ok := func(st Stats) bool {
		return st.Relay.ResponsesRelayed == uint64(b.N)+1 && st.Relay.ConnectionsOpened == 1
	}
	for deadline := time.Now().Add(2 * time.Second); !ok(s.Stats()) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if st := s.Stats(); !ok(st) {
		b.Fatalf("relay stats: %+v", st.Relay)
	}
}

// BenchmarkSteady measures the fault server's steady path over loopback (steady.go): one
// keep-alive connection, a request written, the answer read back, with no faults and with
// faults in the plan that do not fire. The client allocates nothing, so allocs/op is the
// server's own (the goal: 0); each request after the first must be the steady path's.
func BenchmarkSteady(b *testing.B) {
	req := []byte("GET /api/items?id=42 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n")
	for _, bc := range []struct {
		name   string
		faults []string
	}{
		{"no-faults", nil},
		{"faults-not-firing", []string{"idle-close:timeout=5s,probability=0", "close-on-reuse:probability=0", "status:code=500,probability=0"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if !steadySupported {
				b.Skip("no steady path on this platform")
			}
			s, err := New(withFaults(b, bc.faults...))
			if err != nil {
				b.Fatal(err)
			}
			c, roundTrip := loopbackClient(b, s, req, len(okResponse))
			roundTrip() // the connection's first request takes the general loop
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				roundTrip()
			}
			b.StopTimer()
			c.Close()
			deadline := time.Now().Add(2 * time.Second)
			for s.stats.steadyServed.Load() != uint64(b.N) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if got := s.stats.steadyServed.Load(); got != uint64(b.N) {
				b.Fatalf("the steady path took %d of %d requests", got, b.N)
			}
		})
	}
}

// loopbackClient serves s on a loopback port until the benchmark ends and returns a
// connection to it, with a round trip on it that allocates nothing: req written, respLen bytes
// of answer read.
func loopbackClient(b *testing.B, s *Server, req []byte, respLen int) (net.Conn, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	return c, func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < respLen; {
			n, err := c.Read(buf[got:])
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
}

// pickBeforeArrival decides what it can of a request's request faults before the request
// comes, and leaves the rest to its arrival: a request no fault can act on is read like any
// other (no exact reads).
func TestPickBeforeArrival(t *testing.T) {
	const req = "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
	for _, tc := range []struct {
		name     string
		faults   []string
		served   int
		mayAct   bool
		picked   string // the kind chosen before arrival ("": none)
		leftFrom int    // the candidate the choice goes on from at arrival (-1: none left)
	}{
		{"never fires", []string{"fin-mid-request:probability=0"}, 3, false, "", -1},
		{"always fires", []string{"fin-mid-request"}, 3, true, "fin-mid-request", -1},
		{"nth not this one", []string{"fin-mid-request:nth=7"}, 3, false, "", -1},
		{"nth this one", []string{"fin-mid-request:nth=4"}, 3, true, "fin-mid-request", -1},
		{"every is counted at arrival", []string{"fin-mid-request:every=2"}, 3, true, "", 0},
		{"close-on-reuse, new connection", []string{"close-on-reuse"}, 0, false, "", -1},
		{"close-on-reuse, reused, no min-idle", []string{"close-on-reuse"}, 3, true, "close-on-reuse", -1},
		{"close-on-reuse needs the idle time", []string{"close-on-reuse:min-idle=1s"}, 3, true, "", 0},
		{"the second candidate waits", []string{"fin-mid-request:probability=0", "close-on-reuse:min-idle=1s"}, 3, true, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := loopConn(t, req, tc.faults...)
			c.served = tc.served
			mayAct := c.pickBeforeArrival()
			picked := ""
			if c.early.f != nil {
				picked = KindOf(c.early.f)
			}
			left := c.early.from
			if left == len(c.plan.preHead) {
				left = -1
			}
			if mayAct != tc.mayAct || picked != tc.picked || left != tc.leftFrom {
				t.Errorf("may act %v, picked %q, goes on from %d; want %v, %q, %d", mayAct, picked, left, tc.mayAct, tc.picked, tc.leftFrom)
			}
		})
	}
}

// serveRequest acts on what pickBeforeArrival decided under the plan in force, and does not
// ask the selectors again: a fault chosen before the request came acts though its selector
// would not fire now, and one not chosen does not act though it would.
func TestServeRequestUsesTheEarlyPick(t *testing.T) {
	const req = "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
	s, c := loopConn(t, req, "close-on-reuse:probability=0") // never fires when asked
	c.served = 3
	c.early = earlyPick{plan: c.plan, f: c.plan.preHead[0], from: len(c.plan.preHead)}
	if c.serveRequest() || s.Stats().Faults["close-on-reuse"] != 1 {
		t.Errorf("the fault chosen before the request did not act (%d injected)", s.Stats().Faults["close-on-reuse"])
	}

	s, c = loopConn(t, req, "close-on-reuse") // always fires when asked
	c.served = 3
	c.early = earlyPick{plan: c.plan, from: len(c.plan.preHead)} // decided: none
	if !c.serveRequest() || s.Stats().Faults["close-on-reuse"] != 0 {
		t.Errorf("a fault acted on a request decided to have none (%d injected)", s.Stats().Faults["close-on-reuse"])
	}
	// Under another plan (replaced while the connection waited) the early pick does not count.
	c.early = earlyPick{plan: &Plan{}, from: len(c.plan.preHead)}
	if c.serveRequest() || s.Stats().Faults["close-on-reuse"] != 1 {
		t.Errorf("an early pick under an old plan was used (%d injected)", s.Stats().Faults["close-on-reuse"])
	}
}
