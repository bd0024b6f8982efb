package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatecrash/gatecrash/probe"
)

// gatecrash hunt on the built-in keep-alive race, through the embedded proxy: it locates the
// window near the origin's 50 ms, writes a report predict reads, and the fixed variant (the
// proxy drops idle connections at 30 ms) is found safe.
func TestHuntCommand(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "hunt.json")
	code, stdout, stderr := runCLI(t, context.Background(), "hunt", "keepalive-race", "--budget", "8s", "--seed", "3", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{"origin close  wins from a gap of ", "race window   opens at", "first error   after", "verdict       RACE"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep probe.HuntReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.FirstError == nil || rep.Gaps == nil || len(rep.Trials) < 20 {
		t.Fatalf("report: first error %v, gaps %v, %d trials", rep.FirstError, rep.Gaps != nil, len(rep.Trials))
	}
	// predict reads the hunt's report: its window line is the window's gaps, or "none seen"
	// when the hunt's sampling of the window met no failure (it happens under -race on a
	// loaded CI machine: 0 errors in 13 reuses once, 2026-12-04).
	code, pout, perr := runCLI(t, context.Background(), "predict", out, "--rate", "20", "--connections", "1")
	window := strings.Contains(pout, "race window  gaps ") || strings.Contains(pout, "race window  none seen in ")
	if code != 0 || !window || !strings.Contains(pout, "errors per 100M requests") {
		t.Errorf("predict on the hunt's report: exit %d:\n%s%s", code, pout, perr)
	}

	// The fixed variant is safe. One more hunt when the first finds a window: under -race on a
	// loaded 2-core CI machine the embedded proxy's 30 ms idle timer once fired over 20 ms
	// late, and one reuse at a 50.6 ms gap met the origin's close (CI, 2026-12-04). A fix
	// that does not work fails both hunts.
	for try := 1; ; try++ {
		code, stdout, stderr = runCLI(t, context.Background(), "hunt", "keepalive-race", "--variant", "fixed", "--budget", "8s")
		safe := code == 0 && strings.Contains(stdout, "verdict       safe") && !strings.Contains(stdout, "race window")
		if safe {
			break
		}
		if try == 2 {
			t.Errorf("fixed variant, twice: exit %d, want a safe verdict and no window:\n%s%s", code, stdout, stderr)
			break
		}
		t.Logf("fixed variant, first hunt found a window (a late timer?); hunting again:\n%s", stdout)
	}
}

// Bad input is refused before anything starts, naming the flag or argument and what to give.
func TestHuntErrors(t *testing.T) {
	t.Parallel()
	dev := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(dev, []byte("not a hunt report"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"hunt"}, "give a scenario"},
		{[]string{"hunt", "keepalive-race", "--url", "http://127.0.0.1:1/"}, "not both"},
		{[]string{"hunt", "--url", "http://127.0.0.1:1/", "--origin-admin", "http://127.0.0.1:1", "--proxy", "nginx"}, "--variant and --proxy choose within a scenario"},
		{[]string{"hunt", "keepalive-race", "--budget", "0s"}, "--budget: 0s is not allowed"},
		{[]string{"hunt", "keepalive-race", "--precision", "0s"}, "--precision: 0s is not allowed"},
		{[]string{"hunt", "keepalive-race", "--variant", "nope"}, `has no variant "nope"; it has: default, fixed`},
		{[]string{"hunt", "keepalive-race", "--out", dev}, "exists and is not a gatecrash hunt report"},
		{[]string{"hunt", "--url", "http://127.0.0.1:1/", "--origin-admin", "127.0.0.1:1"}, "--origin-admin: \"127.0.0.1:1\" is not an http(s) URL"},
		{[]string{"hunt", "cut-body"}, "no idle-close fault"},
	} {
		code, out, errOut := runCLI(t, context.Background(), tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q%s; want exit 2 and %q", tc.args, code, errOut, out, tc.want)
		}
	}
}
