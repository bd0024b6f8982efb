package results

import (
	"math"
	"strings"
	"testing"
	"time"
)

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

func ms(f float64) Seconds { return Seconds(time.Duration(f * float64(time.Millisecond))) }

// evenWindow is a race window opening at openMs, of n buckets stepMs wide, each with errs
// errors in reqs requests.
func evenWindow(openMs, stepMs float64, n int, errs, reqs int64) RaceWindow {
	profile := make([]GapBucket, n)
	for i := range profile {
		profile[i] = GapBucket{Requests: reqs, Errors: errs}
	}
	e, r := errs*int64(n), reqs*int64(n)
	return RaceWindow{Open: ms(openMs), Close: ms(openMs + float64(n)*stepMs), Step: ms(stepMs), Profile: profile,
		Errors: e, Requests: r, P: RateInterval(e, r)}
}

// The predictor's arithmetic on distributions with a closed form.
func TestPredictClosedForm(t *testing.T) {
	t.Parallel()
	// 20 buckets of 0.1 ms from 999 to 1001 ms, each 5 errors in 10 requests.
	w := evenWindow(999, 0.1, 20, 5, 10)
	bucket := RateInterval(5, 10)

	// Poisson, 1/s on one connection: gaps exponential with mean 1 s.
	p := Predict(w, Traffic{Rate: 1, Connections: 1, Poisson: true})
	in := math.Exp(-0.999) - math.Exp(-1.001)
	if !closeTo(p.InWindow, in) || !closeTo(p.PerRequest, 0.5*in) {
		t.Errorf("Poisson 1/s: in window %g, per request %g; want %g and %g", p.InWindow, p.PerRequest, in, 0.5*in)
	}
	lo, hi := bucket.Lo*in, bucket.Hi*in
	if !closeTo(p.Lo, lo) || !closeTo(p.Hi, hi) || !(p.Lo < p.PerRequest && p.PerRequest < p.Hi) {
		t.Errorf("bounds %g..%g; want %g..%g around %g", p.Lo, p.Hi, lo, hi, p.PerRequest)
	}
	// 64/s over 64 connections is each connection's 1/s: the same.
	if q := Predict(w, Traffic{Rate: 64, Connections: 64, Poisson: true}); !closeTo(q.PerRequest, p.PerRequest) {
		t.Errorf("64/s over 64: %g; want %g", q.PerRequest, p.PerRequest)
	}
	// Per 100M requests.
	if mid, _, _ := p.Per(1e8); !closeTo(mid, 0.5*in*1e8) {
		t.Errorf("per 100M: %g", mid)
	}
	// The proxy's own idle window at 1 s: only gaps under it are reuses.
	if q := Predict(w, Traffic{Rate: 1, Connections: 1, Poisson: true, ProxyIdle: time.Second}); !closeTo(q.InWindow, math.Exp(-0.999)-math.Exp(-1)) {
		t.Errorf("proxy idle 1 s: in window %g; want %g", q.InWindow, math.Exp(-0.999)-math.Exp(-1))
	}
	// The fix: a proxy idle window below the race window removes it.
	if q := Predict(w, Traffic{Rate: 1, Connections: 1, Poisson: true, ProxyIdle: 800 * time.Millisecond}); q.PerRequest != 0 || q.Hi != 0 {
		t.Errorf("proxy idle 800 ms: %+v; want 0", q)
	}
	// Constant arrivals: every gap is K/rate, in the window or not.
	if q := Predict(w, Traffic{Rate: 2, Connections: 2}); q.InWindow != 1 || !closeTo(q.PerRequest, 0.5) {
		t.Errorf("constant 1 s gaps: %+v; want all in the window, 0.5 per request", q)
	}
	if q := Predict(w, Traffic{Rate: 4, Connections: 2}); q.InWindow != 0 || q.Hi != 0 {
		t.Errorf("constant 500 ms gaps: %+v; want none in the window", q)
	}
	// A profile: twice the errors in the second half is three quarters of them there.
	skew := RaceWindow{Open: ms(999), Close: ms(1001), Step: ms(1), Profile: []GapBucket{{Requests: 10, Errors: 2}, {Requests: 10, Errors: 4}},
		Errors: 6, Requests: 20, P: RateInterval(6, 20)}
	want := 0.2*(math.Exp(-0.999)-math.Exp(-1.000)) + 0.4*(math.Exp(-1.000)-math.Exp(-1.001))
	if q := Predict(skew, Traffic{Rate: 1, Connections: 1, Poisson: true}); !closeTo(q.PerRequest, want) {
		t.Errorf("a skewed profile: %g; want %g", q.PerRequest, want)
	}
	// A window with no errors: 0, with an upper bound from what the sweep could not rule out.
	none := RaceWindow{Open: ms(990), Close: ms(1010), Step: ms(1), Requests: 300, P: RateInterval(0, 300)}
	if q := Predict(none, Traffic{Rate: 1, Connections: 1, Poisson: true}); q.PerRequest != 0 || q.Lo != 0 || q.Hi <= 0 {
		t.Errorf("no errors: %+v; want 0 with an upper bound", q)
	}
	// A sweep whose requests took 2 ms: the window is met by requests 1.001..1.003 s apart.
	lw := w
	lw.Latency = ms(2)
	if q := Predict(lw, Traffic{Rate: 1, Connections: 1, Poisson: true}); !closeTo(q.InWindow, math.Exp(-1.001)-math.Exp(-1.003)) {
		t.Errorf("with 2 ms latency: in window %g; want %g", q.InWindow, math.Exp(-1.001)-math.Exp(-1.003))
	}
	if err := (Traffic{Rate: 0, Connections: 0, ProxyIdle: -1}).Check(); err == nil {
		t.Error("a traffic of nothing was taken")
	}
}

// sweepWithErrors is a sweep of 1 s ± 3 ms, 10 requests a bucket, errors in buckets 20 (2)
// and 25 (3).
func sweepWithErrors() *Gaps {
	g := GapBucketsFor(time.Second, 3*time.Millisecond)
	for i := range g.Buckets {
		g.Buckets[i].Requests = 10
	}
	g.Buckets[20].Errors, g.Buckets[25].Errors = 2, 3
	return g
}

// Window takes the span of the buckets with errors.
func TestGapsWindow(t *testing.T) {
	t.Parallel()
	g := sweepWithErrors()
	w, ok := g.Window()
	width := time.Duration(g.Width)
	if !ok || w.Errors != 5 || w.Requests != 60 || time.Duration(w.Open) != time.Duration(g.Lo)+20*width ||
		time.Duration(w.Close) != time.Duration(g.Lo)+26*width {
		t.Fatalf("window %+v", w)
	}
	empty := GapBucketsFor(time.Second, time.Millisecond)
	if _, ok := empty.Window(); ok {
		t.Error("a sweep with no requests has a window")
	}
	for i := range empty.Buckets {
		empty.Buckets[i].Requests = 5
	}
	if w, ok := empty.Window(); !ok || w.Errors != 0 || w.Requests != 300 || w.P.Hi <= 0 {
		t.Errorf("a sweep with no errors: %+v", w)
	}
}

// A gap sweep's summary says where its window opens and how wide it is.
func TestSummaryShowsTheWindow(t *testing.T) {
	t.Parallel()
	g := sweepWithErrors()
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	h := NewHistogram()
	h.RecordValues(2000, 600)
	r := &Result{Schema: Schema, Start: start, End: start.Add(time.Minute), Requests: 600, Gaps: g,
		Outcomes: map[Class]*Outcome{OK: {Count: 600, Latency: h}}}
	var b strings.Builder
	if err := WriteSummary(&b, r); err != nil {
		t.Fatal(err)
	}
	open := FormatDuration(g.Start(20))
	wide := FormatDuration(g.Start(26) - g.Start(20))
	want := "opens at " + open + ", " + wide + " wide (first to last bucket with errors): 5 errors in 60"
	if !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
}
