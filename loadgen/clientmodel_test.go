package loadgen

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

const rawOK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// rawOrigin is a raw TCP server: on each connection it answers serve requests normally, then
// runs end. after counts request bytes that arrived after end began (on any connection).
func rawOrigin(t *testing.T, serve int, end func(c *net.TCPConn, br *bufio.Reader, after *atomic.Int64)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	after := new(atomic.Int64)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c := nc.(*net.TCPConn)
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				for range serve {
					if !readRawRequest(br) {
						return
					}
					io.WriteString(c, rawOK)
				}
				end(c, br, after)
			}()
		}
	}()
	return ln.Addr().String(), after
}

// readRawRequest reads one body-less request head.
func readRawRequest(br *bufio.Reader) bool {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			return true
		}
	}
}

// The peer's FIN arrives while the connection sits idle, and the peer keeps reading: whatever
// the client sends on that connection afterwards is counted.
func finKeepReading(c *net.TCPConn, br *bufio.Reader, after *atomic.Int64) {
	c.CloseWrite()
	n, _ := io.Copy(io.Discard, br)
	after.Add(n)
}

// The peer resets the connection while it sits idle (after the client has read the answer).
func rstWhileIdle(c *net.TCPConn, _ *bufio.Reader, _ *atomic.Int64) {
	time.Sleep(20 * time.Millisecond)
	c.SetLinger(0)
	c.Close()
}

// The peer reads the next request and closes without answering: the close crosses it.
func closeOnNextRequest(c *net.TCPConn, br *bufio.Reader, after *atomic.Int64) {
	if readRawRequest(br) {
		after.Add(1)
	}
	c.Close()
}

func runModel(t *testing.T, addr, model string, think time.Duration) *results.Result {
	t.Helper()
	res, err := Run(context.Background(), Config{URL: "http://" + addr + "/", Connections: 1, Requests: 2,
		ThinkTime: yd(think), Client: model, Timeout: yd(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestClientModelsOnTheWire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		end         func(*net.TCPConn, *bufio.Reader, *atomic.Int64)
		model       string
		think       time.Duration
		class       results.Class // of the second request
		stale, race int64
		discarded   int64
	}{
		{"FIN before send, naive: stale error", finKeepReading, "naive", 50 * time.Millisecond, results.NoResponse, 1, 0, 0},
		{"FIN before send, checked: replaced", finKeepReading, "checked", 50 * time.Millisecond, results.OK, 0, 0, 1},
		{"RST before send, naive: stale error", rstWhileIdle, "naive", 60 * time.Millisecond, results.Reset, 1, 0, 0},
		{"RST before send, checked: replaced", rstWhileIdle, "checked", 60 * time.Millisecond, results.OK, 0, 0, 1},
		{"close crossing the request, naive: race", closeOnNextRequest, "naive", 20 * time.Millisecond, results.NoResponse, 0, 1, 0},
		{"close crossing the request, checked: race", closeOnNextRequest, "checked", 20 * time.Millisecond, results.NoResponse, 0, 1, 0},
		{"validate-after, younger than its age: not looked at", finKeepReading, "validate-after=100ms", 40 * time.Millisecond, results.NoResponse, 1, 0, 0},
		{"validate-after, older than its age: replaced", finKeepReading, "validate-after=100ms", 160 * time.Millisecond, results.OK, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, after := rawOrigin(t, 1, tc.end)
			res := runModel(t, addr, tc.model, tc.think)
			o := res.Outcomes[tc.class]
			if o == nil || res.Count(results.OK)+o.Count < 2 && tc.class != results.OK {
				t.Fatalf("want the second request %s: %s", tc.class, classCounts(res))
			}
			if tc.class == results.OK && res.Count(results.OK) != 2 {
				t.Fatalf("want both requests ok: %s", classCounts(res))
			}
			if o.Stale != tc.stale || o.Race != tc.race || res.Connections.StaleDiscarded != tc.discarded {
				t.Fatalf("%s: stale %d race %d discarded %d; want %d %d %d", tc.class, o.Stale, o.Race,
					res.Connections.StaleDiscarded, tc.stale, tc.race, tc.discarded)
			}
			if tc.class != results.OK {
				if ex := res.Exemplars[tc.class]; len(ex) != 1 || !ex[0].Reused || ex[0].Reuse != map[bool]string{true: "stale", false: "race"}[tc.stale == 1] {
					t.Fatalf("exemplar %+v", ex)
				}
			}
			// A model that replaced the connection never wrote on it after the peer's FIN.
			if tc.discarded > 0 && after.Load() != 0 {
				t.Fatalf("%d bytes were sent on a connection whose FIN had already arrived", after.Load())
			}
		})
	}
}

func TestClientModelAge(t *testing.T) {
	t.Parallel()
	m, err := ParseClientModel("validate-after=2s")
	if err != nil {
		t.Fatal(err)
	}
	if m.checks(2*time.Second) || !m.checks(2*time.Second+time.Nanosecond) || m.String() != "validate-after=2s" {
		t.Fatalf("validate-after=2s must look at connections idle longer than 2s exactly: %v %v %s",
			m.checks(2*time.Second), m.checks(2*time.Second+1), m)
	}
	for _, bad := range []string{"validate-after", "validate-after=0", "validate-after=2", "validate-after=-1s", "checked=1s", "eager"} {
		if _, err := ParseClientModel(bad); err == nil || !strings.Contains(err.Error(), "client") {
			t.Errorf("ParseClientModel(%q) = %v, want an error naming the client field", bad, err)
		}
	}
}

// The reproduction from the issue: an origin that closes idle connections at 50 ms, and
// connections that wait 150 ms ± 10 ms between requests. A checked client never sends on the
// closed connections; a naive one fails half its requests, every one of them stale.
func TestStalePoolReproduction(t *testing.T) {
	t.Parallel()
	_, addr, _ := origin(t, "idle-close:timeout=50ms")
	load := func(model string) *results.Result {
		res, err := Run(context.Background(), Config{URL: "http://" + addr + "/", Pattern: GapSweep, GapCenter: yd(150 * time.Millisecond),
			GapSpread: yd(10 * time.Millisecond), Connections: 2, Duration: yd(2 * time.Second), Client: model})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	checked, naive := load("checked"), load("naive")
	if checked.Errors() != 0 || checked.Requests < 20 || checked.Connections.StaleDiscarded < checked.Requests-2 {
		t.Fatalf("checked: %s, %d discarded; want no errors and every reuse attempt discarded", classCounts(checked), checked.Connections.StaleDiscarded)
	}
	nr := naive.Outcomes[results.NoResponse]
	if nr == nil || nr.Count*10 < naive.Requests*4 || nr.Stale != nr.Count || naive.Errors() != nr.Count {
		t.Fatalf("naive: %s; want about half no-response, every one stale", classCounts(naive))
	}
}

func TestReuseOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a    attempt
		want string
	}{
		{"fresh connection", attempt{class: results.NoResponse}, ""},
		{"close crossed the request", attempt{class: results.NoResponse, reused: true, looked: alive}, "race"},
		{"reset crossed the request", attempt{class: results.Reset, reused: true, looked: alive}, "race"},
		{"close was already there", attempt{class: results.NoResponse, reused: true, looked: peerClosed}, "stale"},
		{"a 408 the server left on the idle connection", attempt{class: results.Status4xx, reused: true, looked: peerClosed}, "stale"},
		{"a 502 on a healthy connection is no race", attempt{class: results.Status502, reused: true, looked: alive}, ""},
		{"a timeout is no close", attempt{class: results.Timeout, reused: true, looked: alive}, ""},
		{"ok", attempt{class: results.OK, reused: true, looked: alive}, ""},
		{"platform cannot look", attempt{class: results.NoResponse, reused: true, looked: unknown}, ""},
	} {
		if got := reuseOf(&tc.a); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
