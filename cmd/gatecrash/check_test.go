package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// writeClean writes a result of n requests, all ok, and errs 502s.
func writeClean(t *testing.T, path string, n, errs int64) {
	t.Helper()
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r := &results.Result{Schema: results.Schema, Target: results.Target{URL: "http://127.0.0.1:1/", Method: "GET", Pattern: "closed"},
		Start: start, End: start.Add(time.Hour), Requests: n, Outcomes: map[results.Class]*results.Outcome{}}
	add := func(c results.Class, k int64) {
		h := results.NewHistogram()
		h.RecordValues(1000, k)
		r.Outcomes[c] = &results.Outcome{Count: k, Latency: h}
	}
	add(results.OK, n-errs)
	if errs > 0 {
		add(results.Status502, errs)
	}
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

// TestCheckRatesNeedEvidence: a rate threshold holds only when the 95% upper bound is below
// it. "502 < 1e-6" on 1,500 clean requests is NOT MET and says how many requests it would
// take; on 50M clean requests "< 1e-7" is met; --point-estimate keeps the old reading; a
// result with no requests meets nothing, not even "errors == 0".
func TestCheckRatesNeedEvidence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	short, long, some, empty := filepath.Join(dir, "short.json"), filepath.Join(dir, "long.json"), filepath.Join(dir, "some.json"), filepath.Join(dir, "empty.json")
	writeClean(t, short, 1500, 0)
	writeClean(t, long, 50_000_000, 0)
	writeClean(t, some, 1_000_000, 3)
	writeClean(t, empty, 0, 0)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"short run cannot show 1e-6", []string{"check", short, "--expect", "502 < 1e-6"}, 3,
			"502 < 1e-6 — NOT MET (actual 0 (< 2.0e-03)): 0 in 1,500 requests shows < 2.0e-03; < 1e-6 needs ≥ 3.0M requests without one"},
		{"50M clean requests show 1e-7", []string{"check", long, "--expect", "502 < 1e-7"}, 0, "502 < 1e-7 — met (actual 0 (< 6.0e-08))"},
		{"3 in a million is not below 5e-6 yet", []string{"check", some, "--expect", "502 < 5e-6"}, 3,
			"3 in 1,000,000 requests shows < 8.8e-06; at the rate seen (3.0e-06), < 5e-6 needs about"},
		{"3 in a million is above 1e-6 for sure", []string{"check", some, "--expect", "502 < 1e-6"}, 3, "NOT MET (actual 3.0e-06"},
		{"above, shown by the lower bound", []string{"check", some, "--expect", "502 > 1e-7"}, 0, "— met"},
		{"point estimate, the old reading", []string{"check", short, "--expect", "502 < 1e-6", "--point-estimate"}, 0, "(point estimate)"},
		{"no requests meet nothing", []string{"check", empty, "--expect", "errors == 0"}, 3, "NOT MET (actual no requests)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, ctx, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d\n%s%s\nwant exit %d and %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
}
