package results

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pool is how the proxy hands out its idle upstream connections, for Predict.
type Pool string

// Pools.
const (
	// PoolEven spreads requests evenly over Traffic.Connections connections: each sees 1/K
	// of the traffic (the closed-form model).
	PoolEven Pool = "even"
	// PoolLIFO hands out the most recently used idle connection first (nginx's keepalive
	// cache, Go's Transport, Caddy), keeping at most Traffic.Connections idle; PoolFIFO the
	// one idle longest. Both are simulated.
	PoolLIFO Pool = "lifo"
	PoolFIFO Pool = "fifo"
)

// ParsePool checks a pool's name.
func ParsePool(s string) (Pool, error) {
	switch p := Pool(s); p {
	case PoolEven, PoolLIFO, PoolFIFO:
		return p, nil
	case "":
		return PoolEven, nil
	}
	return "", fmt.Errorf("pool %q is not allowed; allowed: even, lifo (most recently used first: nginx, Go, Caddy), fifo", s)
}

// simulation bounds: arrivals simulated until this many reuses fell in the window, or maxSim.
const (
	simWanted = 4000
	minSim    = 200_000
	maxSim    = 50_000_000
)

// predictPool simulates a proxy's pool under t: requests arrive (Poisson or evenly), each
// takes the window's median request time, and a request takes an idle connection by the pool's
// order, or opens one. An idle connection the origin has closed (idle past the window) or the
// proxy has (past its idle window) is gone; one reused at a gap inside the window fails with
// that gap's bucket rate, and is then gone too. The prediction is the expected failures per
// request — the sum of the bucket rates met, not a count of simulated failures — with the
// buckets' 95% bounds summed the same way. The random stream is fixed: the same inputs give
// the same prediction.
func predictPool(w RaceWindow, t Traffic) Prediction {
	rng := rand.New(rand.NewPCG(1, 2))
	lat := math.Max(w.Latency.seconds(), 0)
	open, closeAt, step := w.Open.seconds(), w.Close.seconds(), w.Step.seconds()
	gone := closeAt // an idle connection past this gap is closed, and the proxy knows it
	if pi := t.ProxyIdle.Seconds(); pi > 0 && pi < gone {
		gone = pi
	}
	type rates struct{ mid, lo, hi float64 }
	bucket := make([]rates, len(w.Profile))
	for i, b := range w.Profile {
		if b.Requests > 0 {
			r := RateInterval(b.Errors, b.Requests)
			bucket[i] = rates{r.Rate, r.Lo, r.Hi}
		}
	}
	if w.Errors == 0 { // no failure seen: the sweep's bound over its whole range
		for i := range bucket {
			bucket[i] = rates{0, 0, w.P.Hi}
		}
	}
	var (
		idle     []float64 // release times of idle connections, oldest first
		inflight []float64 // completion times of requests under way, in order
		now      float64
		n, in    int64
		out      Prediction
	)
	limit := int64(maxSim)
	if len(t.Arrivals) > 0 {
		limit = int64(len(t.Arrivals))
	}
	for n = 0; n < limit && (len(t.Arrivals) > 0 || in < simWanted || n < minSim); n++ {
		switch {
		case len(t.Arrivals) > 0:
			now = t.Arrivals[n] - t.Arrivals[0]
		case t.Poisson:
			now += rng.ExpFloat64() / t.Rate
		default:
			now += 1 / t.Rate
		}
		// Requests done by now release their connections, in order; the pool keeps the most
		// recently released Connections of them (nginx closes the least recently used).
		k := 0
		for k < len(inflight) && inflight[k] <= now {
			idle = append(idle, inflight[k])
			k++
		}
		inflight = inflight[:copy(inflight, inflight[k:])]
		if over := len(idle) - t.Connections; over > 0 {
			idle = idle[:copy(idle, idle[over:])]
		}
		// Connections idle past the window (the origin closed them) or the proxy's own idle
		// window are gone: they are the oldest.
		drop := 0
		for drop < len(idle) && now-idle[drop] >= gone {
			drop++
		}
		idle = idle[:copy(idle, idle[drop:])]
		done := now + lat
		if len(idle) == 0 {
			inflight = append(inflight, done) // a new connection
			continue
		}
		var released float64
		if t.Pool == PoolFIFO {
			released = idle[0]
			idle = idle[:copy(idle, idle[1:])]
		} else {
			released = idle[len(idle)-1]
			idle = idle[:len(idle)-1]
		}
		// The gap is measured as the sweep measured it: from the response to the request.
		if gap := now - released; gap >= open && gap < closeAt {
			in++
			i := min(int((gap-open)/step), len(bucket)-1)
			r := bucket[i]
			out.PerRequest += r.mid
			out.Lo += r.lo
			out.Hi += r.hi
			if rng.Float64() < r.mid {
				continue // it failed: the connection is gone
			}
		}
		inflight = append(inflight, done)
	}
	if n == 0 {
		return out
	}
	out.InWindow = float64(in) / float64(n)
	out.PerRequest /= float64(n)
	out.Lo /= float64(n)
	out.Hi /= float64(n)
	return out
}

func (s Seconds) seconds() float64 { return time.Duration(s).Seconds() }

// ParseArrivals reads request times, one per line, in seconds (the first field of each line:
// an access log written with nginx's $msec or HAProxy's %Ts.%ms first), and returns them
// sorted, for Traffic.Arrivals. Blank lines and lines starting with # are skipped; what
// names the input in errors, with the line.
func ParseArrivals(b []byte, what string) ([]float64, error) {
	var ts []float64
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.Trim(f[0], "[]"), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("%s, line %d: %q is not a time in seconds; each line must start with one, e.g. 1764756000.123 (nginx $msec, HAProxy %%Ts.%%ms)", what, i+1, f[0])
		}
		ts = append(ts, v)
	}
	if len(ts) < 2 {
		return nil, fmt.Errorf("%s: %d request times; give at least 2, one per line", what, len(ts))
	}
	slices.Sort(ts)
	if ts[len(ts)-1] == ts[0] {
		return nil, fmt.Errorf("%s: every request has the same time %v; times need sub-second resolution (nginx $msec, HAProxy %%Ts.%%ms)", what, ts[0])
	}
	return ts, nil
}
