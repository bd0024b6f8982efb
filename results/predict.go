package results

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// RaceWindow is where reused connections fail, as a gap sweep drew it: the idle gaps from
// Open to Close (the first to the last bucket with an error), each bucket's failure rate
// (Profile), and all of them together (P). A sweep with no errors gives its whole range, with
// P's upper bound what the sweep can still not rule out.
type RaceWindow struct {
	Open, Close Seconds
	Step        Seconds
	// Profile is the sweep's buckets from Open to Close, Step wide each.
	Profile []GapBucket
	// Latency is the sweep's typical request time (its ok median): a gap is measured from a
	// response to the next request, arrivals from request to request, so a window at gap g is
	// met by requests g + Latency apart.
	Latency Seconds
	// Errors of Requests inside the window; P their rate with its 95% interval.
	Errors, Requests int64
	P                Interval
}

// Window returns the race window of a gap sweep's buckets: from the first bucket with an
// error to the end of the last one, with each bucket's counts. A sweep with no errors gives
// its whole range. ok is false for a sweep with no requests in its buckets.
func (g *Gaps) Window() (w RaceWindow, ok bool) {
	first, last := -1, -1
	var total int64
	for i, b := range g.Buckets {
		total += b.Requests
		if b.Errors > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if total == 0 {
		return RaceWindow{}, false
	}
	if first < 0 {
		first, last = 0, len(g.Buckets)-1
	}
	w = RaceWindow{Step: g.Width, Profile: g.Buckets[first : last+1],
		Open:  g.Lo + Seconds(first)*g.Width,
		Close: g.Lo + Seconds(last+1)*g.Width}
	for _, b := range w.Profile {
		w.Errors += b.Errors
		w.Requests += b.Requests
	}
	w.P = RateInterval(w.Errors, w.Requests)
	return w, true
}

// WindowLine says where the race window is, for reports and the matrix: "opens at 48.50ms,
// 3.00ms wide (first to last bucket with errors): 40 errors in 300, 13.3% (...)"; "" when no
// bucket has errors.
func (g *Gaps) WindowLine() string {
	w, ok := g.Window()
	if !ok || w.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("opens at %s, %s wide (first to last bucket with errors): %s errors in %s, %s",
		FormatDuration(time.Duration(w.Open)), FormatDuration(time.Duration(w.Close-w.Open)), FormatCount(w.Errors),
		FormatCount(w.Requests), w.P.Percent())
}

// Traffic is a production traffic profile for Predict: requests at Rate per second, spread
// evenly over Connections pooled upstream connections, arriving as a Poisson process or at
// constant intervals.
type Traffic struct {
	Rate        float64
	Connections int
	// Poisson: each connection's idle gaps are exponential with mean Connections/Rate;
	// otherwise every gap is Connections/Rate.
	Poisson bool
	// ProxyIdle is the proxy's own idle window for pooled connections (0: none): a gap at
	// or past it is no reuse, the proxy having closed the connection itself.
	ProxyIdle time.Duration
	// Pool is how the proxy hands out idle connections: even (the closed form, "" too), or
	// lifo / fifo, simulated with Connections as the most idle connections it keeps.
	Pool Pool
	// Arrivals, when set, are the requests' times in seconds, sorted (from an access log):
	// the simulated pool takes them instead of a Poisson or constant stream.
	Arrivals []float64
}

// Check says what is wrong with t.
func (t Traffic) Check() error {
	var errs []error
	if !(t.Rate > 0) || math.IsInf(t.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate %v: give requests per second > 0", t.Rate))
	}
	if t.Connections < 1 {
		errs = append(errs, fmt.Errorf("connections %d: give the pooled upstream connections the requests spread over, >= 1", t.Connections))
	}
	if t.ProxyIdle < 0 {
		errs = append(errs, fmt.Errorf("proxy idle window %v: give 0 (none) or more", t.ProxyIdle))
	}
	if _, err := ParsePool(string(t.Pool)); err != nil {
		errs = append(errs, err)
	} else if len(t.Arrivals) > 0 && t.Pool != PoolLIFO && t.Pool != PoolFIFO {
		errs = append(errs, errors.New("request times from a log are played through a simulated pool: give pool lifo or fifo"))
	}
	return errors.Join(errs...)
}

// gapIn is the probability that the time from the previous request on a request's
// connection falls in [a, b) — and, for a reuse, under the proxy's own idle window.
func (t Traffic) gapIn(a, b float64) float64 {
	if t.ProxyIdle > 0 {
		b = math.Min(b, t.ProxyIdle.Seconds())
	}
	a = math.Max(a, 0)
	if b <= a {
		return 0
	}
	mean := float64(t.Connections) / t.Rate
	if !t.Poisson {
		if a <= mean && mean < b {
			return 1
		}
		return 0
	}
	return math.Exp(-a/mean) - math.Exp(-b/mean)
}

// Prediction is the expected error rate per request of a race window under a traffic
// profile, with its 95% interval.
type Prediction struct {
	// InWindow is the share of requests whose idle gap falls in the window.
	InWindow float64
	// PerRequest is the expected errors per request: over the window's buckets, the share of
	// requests in each times its failure rate. Lo and Hi bound it with each bucket's 95%
	// interval (a conservative interval: the buckets' bounds are not taken jointly).
	PerRequest, Lo, Hi float64
}

// Per returns the expected errors in n requests, with their bounds.
func (p Prediction) Per(n float64) (mid, lo, hi float64) {
	return p.PerRequest * n, p.Lo * n, p.Hi * n
}

// Predict returns the errors per request to expect from race window w under traffic t. A
// window with no errors gives 0 and an upper bound: the sweep's rate bound over its range.
func Predict(w RaceWindow, t Traffic) Prediction {
	if t.Pool == PoolLIFO || t.Pool == PoolFIFO {
		return predictPool(w, t)
	}
	lat, step := time.Duration(w.Latency).Seconds(), time.Duration(w.Step).Seconds()
	open := time.Duration(w.Open).Seconds() + lat
	var out Prediction
	out.InWindow = t.gapIn(open, time.Duration(w.Close).Seconds()+lat)
	if w.Errors == 0 {
		out.Hi = w.P.Hi * out.InWindow
		return out
	}
	for i, b := range w.Profile {
		if b.Requests == 0 {
			continue
		}
		in := t.gapIn(open+float64(i)*step, open+float64(i+1)*step)
		r := RateInterval(b.Errors, b.Requests)
		out.PerRequest += r.Rate * in
		out.Lo += r.Lo * in
		out.Hi += r.Hi * in
	}
	return out
}

// Assumptions are what Predict's model takes for granted, for its output and docs.
var Assumptions = []string{
	"a request fails only when its connection's idle gap falls in the race window, with the window's failure rate, as in the gap sweep it was measured by (same proxy, origin and network)",
	"pool even: requests spread evenly over the pooled connections, each seeing 1/K of the traffic; Poisson arrivals make each connection's idle gaps exponential, constant arrivals make every gap K/rate",
	"pool lifo / fifo: the proxy's pool is simulated — arrivals Poisson (or constant), each request taking the sweep's median request time, the most recently (lifo) or longest (fifo) idle connection taken first, at most K kept idle; a connection idle past the window, or past the proxy's idle window, is gone",
	"a gap (from a response to the next request, as the sweep measured it) is the time between two requests' starts less the sweep's median request time",
}
