package faultserver

import (
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Every registered kind: a name that round-trips, a type of its own, exactly one phase, a
// ground-truth counter, and defaults that validate.
func TestRegistry(t *testing.T) {
	t.Parallel()
	st := newStats().snapshot()
	types := map[reflect.Type]string{}
	for _, kind := range Kinds() {
		f, err := NewFault(kind)
		if err != nil {
			t.Fatalf("NewFault(%q): %v", kind, err)
		}
		if got := KindOf(f); got != kind {
			t.Errorf("KindOf(NewFault(%q)) = %q", kind, got)
		}
		if other, dup := types[reflect.TypeOf(f)]; dup {
			t.Errorf("%s and %s share the type %T", kind, other, f)
		}
		types[reflect.TypeOf(f)] = kind
		phases := 0
		for _, is := range []bool{
			implements[HandshakeFault](f), implements[IdleFault](f), implements[RequestFault](f), implements[ResponseFault](f),
			implements[H2IdleFault](f), implements[H2StreamFault](f), implements[H2ConnFault](f),
		} {
			if is {
				phases++
			}
		}
		if implements[ResponseFault](f) && implements[H2StreamFault](f) {
			phases-- // a response fault with its HTTP/2 form (delay, status)
		}
		if phases != 1 {
			t.Errorf("%s implements %d phases, want 1", kind, phases)
		}
		if _, ok := st.Faults[kind]; !ok {
			t.Errorf("%s has no ground-truth counter", kind)
		}
	}
	if len(st.Faults) != len(Kinds()) {
		t.Errorf("%d counters for %d kinds", len(st.Faults), len(Kinds()))
	}
	// Every kind is classified by its phase: does an injection fail the request it acts on
	// (what "absorbed by proxy" is counted from)? A new kind must be added here on purpose.
	failsRequest := map[string]bool{
		"idle-close": false, "tls-stall": false, "delay": false, // connection faults, and a late answer
		"close-on-reuse": true, "fin-mid-request": true, "rst-headers": true, "cut-body": true, "no-response": true, "status": true,
		"goaway-idle": false, "rst-stream": true, "close-no-goaway": true, "goaway-after": false, // HTTP/2: an idle close, a stream's reset, a crash
		"max-streams": true, "goaway-race": true, // HTTP/2: a refused stream, a stream left above the GOAWAY
		"ping-silence": false, "window-stall": false, // HTTP/2: per connection
		exampleKind: true,
	}
	for _, kind := range Kinds() {
		want, listed := failsRequest[kind]
		if !listed {
			t.Errorf("%s is not classified here: say whether it fails the request it acts on", kind)
		} else if FailsRequest(kind) != want {
			t.Errorf("FailsRequest(%s) = %v, want %v", kind, FailsRequest(kind), want)
		}
	}
	if _, err := New(&Config{Faults: []Fault{&unregistered{}}}); err == nil || !strings.Contains(err.Error(), "not a registered fault kind") {
		t.Errorf("a fault of an unregistered type: err = %v, want it refused", err)
	}
}

func implements[P any](f Fault) bool { _, ok := f.(P); return ok }

type unregistered struct{ Selector }

func (*unregistered) Validate() error { return nil }
func (*unregistered) respond(*conn, *Request) (bool, error) {
	return false, nil
}

// The kind defined in example_kind_test.go — one file, nothing else touched — works from the
// plan and from a request header, and is counted.
func TestExampleKindAddedInOneFile(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, withFaults(t, exampleKind+":length=20,sent=7,match=/tea"))
	want := "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 20\r\n\r\n" + string(Payload(20)[:7])
	for _, req := range []string{
		"GET /tea HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: " + exampleKind + ";length=20;sent=7\r\n\r\n",
	} {
		c := dial(t, addr)
		send(t, c, req)
		got, err := readUntilEnd(t, c, 2*time.Second)
		if string(got) != want || ending(err) != "RST" {
			t.Fatalf("got %q and %s, want %q and RST", got, ending(err), want)
		}
	}
	waitStats(t, s, "2 example faults", func(st Stats) bool { return st.Faults[exampleKind] == 2 })
}

// A request header must not be able to make the server send (or allocate) without bound, or
// hold a connection for days.
func TestHeaderFaultLimits(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, DefaultConfig())
	for _, tc := range []struct{ header, want string }{
		{"cut-body;body-size=67108864;after-bytes=67108863", "header-limits.max-body-size 1048576"},
		{"delay;head-delay=100000h", "header-limits.max-wait 1m0s"},
		{"idle-close;timeout=2h", "header-limits.max-wait 1m0s"},
	} {
		c := dial(t, addr)
		send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: "+tc.header+"\r\n\r\n")
		got, _ := readUntilEnd(t, c, 2*time.Second)
		if !strings.HasPrefix(string(got), "HTTP/1.1 400 ") || !strings.Contains(string(got), tc.want) {
			t.Errorf("%s: got %q, want a 400 naming %s", tc.header, got, tc.want)
		}
	}
}

// Not parallel: it measures the bytes this process allocates while one large cut body is
// served, and parallel tests would add theirs.
func TestCutBodyStreamsWithoutAllocating(t *testing.T) {
	const size = 32 << 20
	cfg := withFaults(t, fmt.Sprintf("cut-body:body-size=%d,after-bytes=%d", size, size-1))
	_, addr := startServer(t, cfg)
	c := dial(t, addr)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	send(t, c, getReq)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, c)
	runtime.ReadMemStats(&after)
	if err != nil || n < size-1 {
		t.Fatalf("read %d bytes, %v; want the head and %d body bytes", n, err, size-1)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("serving a %d-byte cut body allocated %d bytes; it must stream from a fixed buffer", size, alloc)
	}
}

// A delay (or any fault's wait) ends when the peer leaves: the connection must not sit in
// CLOSE-WAIT until the delay is over.
func TestDelayEndsWhenPeerLeaves(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, DefaultConfig())
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: delay;head-delay=50s\r\n\r\n")
	waitStats(t, s, "the request read", func(st Stats) bool { return st.RequestsRead == 1 })
	c.Close()
	waitStats(t, s, "the connection closed after the peer left", func(st Stats) bool {
		return st.ConnectionsOpen == 0 && st.Closes.PeerFIN == 1
	})
}

// An RST after response bytes waits until they have left, not until the peer acknowledged
// them: a peer that delays its ACK (40 ms on Linux) would otherwise hold every such
// connection (and, in a closed-loop load, everyone's latency) that long.
func TestRSTDoesNotWaitForThePeersACK(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, DefaultConfig())
	fastest := time.Hour
	for range 5 {
		c := dial(t, addr)
		// A fresh connection ACKs at once (quick-ACK mode); one that has carried a few
		// exchanges delays its ACKs, as the connections of a running load do.
		for range 20 {
			send(t, c, getReq)
			readN(t, c, len(okResponse))
		}
		send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: rst-headers;after-bytes=17\r\n\r\n")
		buf := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "HTTP/1.1 200 OK\r\n"[:n] {
			t.Fatalf("first read: %q, %v", buf[:n], err)
		}
		first := time.Now()
		_, err = readUntilEnd(t, c, 2*time.Second)
		if ending(err) != "RST" {
			t.Fatalf("ended with %s, want RST", ending(err))
		}
		fastest = min(fastest, time.Since(first))
	}
	// The fastest of five, so a slow scheduler cannot fail it; a 40 ms delayed ACK would.
	if fastest > 20*time.Millisecond {
		t.Fatalf("the RST came %v after the response bytes (fastest of 5), want well under the peer's 40ms delayed ACK", fastest)
	}
}
