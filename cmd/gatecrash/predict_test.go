package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// writeSweep writes a gap sweep's result of conns connections: 10 requests a bucket, errs
// errors in buckets 29 and 30, requests taking 2 ms.
func writeSweep(t *testing.T, path string, errs int64, conns int) {
	t.Helper()
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	g := results.GapBucketsFor(time.Second, 3*time.Millisecond)
	for i := range g.Buckets {
		g.Buckets[i].Requests = 10
	}
	g.Buckets[29].Errors, g.Buckets[30].Errors = errs, errs
	hist := func(n int64) *results.Histogram {
		h := results.NewHistogram()
		h.RecordValues(2000, n)
		return h
	}
	r := &results.Result{Schema: results.Schema, Target: results.Target{URL: "http://127.0.0.1:1/", Method: "POST", Pattern: "gap-sweep", Connections: conns},
		Start: start, End: start.Add(time.Minute), Requests: 600, Gaps: g,
		Outcomes: map[results.Class]*results.Outcome{results.OK: {Count: 600 - 2*errs, Latency: hist(600 - 2*errs)}}}
	if errs > 0 {
		r.Outcomes[results.Status502] = &results.Outcome{Count: 2 * errs, Latency: hist(2 * errs)}
	}
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

// gatecrash predict prints what results.Predict computes for the sweep and the traffic —
// before and after a fix — with the model's assumptions, and refuses what is no prediction.
func TestPredictCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sweep, fixed, plain := filepath.Join(dir, "sweep.json"), filepath.Join(dir, "fixed.json"), filepath.Join(dir, "plain.json")
	writeSweep(t, sweep, 5, 1)
	writeSweep(t, fixed, 0, 1)
	writeClean(t, plain, 100, 0)
	times, bad := filepath.Join(dir, "times.log"), filepath.Join(dir, "bad.log")
	os.WriteFile(times, []byte("1764756000.000\n1764756000.020\n1764756000.045\n"), 0o644)
	os.WriteFile(bad, []byte("1764756000.000 ok\nGET / 200\n"), 0o644)
	code, out, errOut := runCLI(t, context.Background(), "predict", sweep, "--fix", fixed, "--rate", "50", "--connections", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	w, note, err := sweepWindow(sweep)
	if err != nil || note != "" {
		t.Fatal(err, note)
	}
	p := results.Predict(w, results.Traffic{Rate: 50, Connections: 1, Poisson: true})
	mid, lo, hi := p.Per(1e8)
	if w.Errors != 10 || w.Requests != 20 || time.Duration(w.Latency) != 2*time.Millisecond || !(lo < mid && mid < hi) || math.IsNaN(mid) {
		t.Fatalf("window %+v, prediction %+v", w, p)
	}
	for _, want := range []string{
		"traffic      50/s over 1 connection, Poisson arrivals",
		"race window  gaps ", ": 10 errors in 20 reuses inside, p = 50.0%",
		fmt.Sprintf("expected     %s errors per 100M requests (%s..%s)", fmtCount(mid), fmtCount(lo), fmtCount(hi)),
		"fix: race window  none seen in", "fix: expected     0 errors per 100M requests (at most",
		"assumptions:", "Poisson arrivals make each connection's idle gaps exponential",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "note ") {
		t.Errorf("a one-connection sweep gets no note:\n%s", out)
	}
	// A sweep of several connections counts requests after a failure in the buckets: the
	// output says the rate per reuse reads low.
	several := filepath.Join(dir, "several.json")
	writeSweep(t, several, 5, 4)
	if code, out, errOut := runCLI(t, context.Background(), "predict", several, "--rate", "50", "--connections", "1"); code != 0 ||
		!strings.Contains(out, "note         the sweep ran 4 connections: a request after a failure went on a new upstream connection") {
		t.Errorf("a 4-connection sweep: exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, context.Background(), "predict", sweep, "--arrivals", times, "--connections", "16", "--pool", "lifo")
	if code != 0 || !strings.Contains(out, "traffic      3 requests from "+times+" over 0.0 s (44.4/s), through a pool that hands out its most recently used connection first and keeps at most 16 connections idle (simulated)") {
		t.Errorf("--arrivals: exit %d:\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", sweep}, "--rate: missing"},
		{[]string{"predict", sweep, "--rate", "-3", "--connections", "2"}, "rate -3: give requests per second > 0"},
		{[]string{"predict", plain, "--rate", "5", "--connections", "2"}, "not a gap sweep"},
		{[]string{"predict", filepath.Join(dir, "none.json"), "--rate", "5", "--connections", "2"}, "none.json"},
		{[]string{"predict", sweep, "--rate", "5", "--connections", "2", "--pool", "lru"}, `--pool: pool "lru" is not allowed; allowed: even, lifo`},
		{[]string{"predict", sweep, "--arrivals", times, "--connections", "2"}, "--arrivals: request times are played through a simulated pool; add --pool lifo"},
		{[]string{"predict", sweep, "--arrivals", times, "--rate", "5", "--connections", "2", "--pool", "lifo"}, "--rate: give it or --arrivals, not both"},
		{[]string{"predict", sweep, "--arrivals", bad, "--connections", "2", "--pool", "lifo"}, "bad.log, line 2: \"GET\" is not a time in seconds"},
	} {
		code, out, errOut := runCLI(t, context.Background(), tc.args...)
		if code != 2 && code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %s%s; want an error with %q", tc.args, code, out, errOut, tc.want)
		}
	}
}
