package results

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// The simulated pool against what can be worked out by hand.
func TestPredictPool(t *testing.T) {
	t.Parallel()
	// A window from 40 to 60 ms, 20 buckets of 1 ms, each failing 1 in 10.
	w := evenWindow(40, 1, 20, 10, 100)

	// One connection kept, requests taking no time, Poisson at 20/s: every request reuses the
	// last one's connection, and its gap is the time since the last arrival — the closed form
	// for one connection (less the requests after a failure, which find no connection: a
	// share of p·in, 0.4% here).
	lifo := Predict(w, Traffic{Rate: 20, Connections: 1, Poisson: true, Pool: PoolLIFO})
	in := math.Exp(-20*0.040) - math.Exp(-20*0.060)
	if math.Abs(lifo.InWindow/in-1) > 0.05 || math.Abs(lifo.PerRequest/(0.1*in)-1) > 0.05 {
		t.Errorf("one connection at 20/s: in window %.4g, per request %.4g; want %.4g and %.4g (±5%%)", lifo.InWindow, lifo.PerRequest, in, 0.1*in)
	}
	if !(lifo.Lo < lifo.PerRequest && lifo.PerRequest < lifo.Hi) {
		t.Errorf("bounds %g..%g do not hold %g", lifo.Lo, lifo.Hi, lifo.PerRequest)
	}
	// The same traffic spread evenly over 32 connections would put each at 0.6/s; a pool
	// that reuses its most recent connection first keeps using one and leaves the others to
	// be closed: gaps stay those of the whole stream, as with one connection.
	even := Predict(w, Traffic{Rate: 20, Connections: 32, Poisson: true})
	lifo32 := Predict(w, Traffic{Rate: 20, Connections: 32, Poisson: true, Pool: PoolLIFO})
	if math.Abs(lifo32.PerRequest/lifo.PerRequest-1) > 0.05 || math.Abs(even.PerRequest/lifo.PerRequest-1) < 0.5 {
		t.Errorf("32 connections at 20/s: lifo %.4g, even %.4g; want lifo as one connection's %.4g and even far from it", lifo32.PerRequest, even.PerRequest, lifo.PerRequest)
	}
	// Constant arrivals every 50 ms, inside the window: every reuse meets it.
	if c := Predict(w, Traffic{Rate: 20, Connections: 4, Pool: PoolFIFO}); math.Abs(c.InWindow-0.9) > 0.02 {
		// 1 in 10 fails and leaves the next request without a connection: 10/11 are reuses.
		t.Errorf("constant 20/s: in window %.4g; want about 0.909", c.InWindow)
	}
	// The proxy's own idle window under the window's opening: no reuse ever meets it.
	if q := Predict(w, Traffic{Rate: 20, Connections: 1, Poisson: true, Pool: PoolLIFO, ProxyIdle: 30 * time.Millisecond}); q.PerRequest != 0 || q.Hi != 0 {
		t.Errorf("proxy idle 30 ms: %+v; want nothing", q)
	}
	// The same inputs give the same prediction.
	if again := Predict(w, Traffic{Rate: 20, Connections: 1, Poisson: true, Pool: PoolLIFO}); again != lifo {
		t.Errorf("a second prediction differs: %+v vs %+v", again, lifo)
	}
	if _, err := ParsePool("lru"); err == nil {
		t.Error("pool lru accepted")
	}
}

// Request times from a log are played through the simulated pool as they are: the same
// stream as a constant rate gives the same prediction, and bad lines are named.
func TestPredictArrivals(t *testing.T) {
	t.Parallel()
	w := evenWindow(40, 1, 20, 10, 100)
	var log strings.Builder
	log.WriteString("# nginx $msec\n\n")
	for i := range 20000 {
		fmt.Fprintf(&log, "%.3f 127.0.0.1 \"POST / HTTP/1.1\" 200\n", 1764756000+float64(i)*0.05)
	}
	ts, err := ParseArrivals([]byte(log.String()), "access.log")
	if err != nil {
		t.Fatal(err)
	}
	got := Predict(w, Traffic{Connections: 4, Pool: PoolFIFO, Arrivals: ts})
	if math.Abs(got.InWindow-0.909) > 0.02 {
		t.Errorf("every 50 ms from a log: in window %.4g; want about 0.909, as at a constant 20/s", got.InWindow)
	}
	for _, tc := range []struct{ in, want string }{
		{"1.5\nabc\n", "access.log, line 2: \"abc\" is not a time in seconds"},
		{"1.5\n", "1 request times; give at least 2"},
		{"7 a\n7 b\n", "every request has the same time 7"},
	} {
		if _, err := ParseArrivals([]byte(tc.in), "access.log"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want %q", tc.in, err, tc.want)
		}
	}
	if err := (Traffic{Rate: 1, Connections: 1, Arrivals: ts}).Check(); err == nil {
		t.Error("request times with pool even were accepted")
	}
}
