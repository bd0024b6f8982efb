package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatecrash/gatecrash/results"
)

// TestExamplesRun runs every scenario in examples/ as its comments say, with a Go reverse
// proxy standing in for the staging proxy and the duration shortened: each is valid, its
// load goes through the stand-in to the fault server at the fixed address, and it ends with
// a verdict (0 or 3), not an error.
func TestExamplesRun(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 2 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			proxyAddr, originAddr := standInProxy(t)
			dir := filepath.Join(t.TempDir(), "run")
			code, out, errOut := runCLI(t, context.Background(), "run", f, "--proxy-address", proxyAddr,
				"--origin-listen", originAddr, "--duration", "2s", "-q", "--out", dir)
			if code != 0 && code != 3 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			r, err := results.ReadFile(filepath.Join(dir, "default.json"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests == 0 || r.Origin == nil || r.Origin.RequestsStarted == 0 {
				t.Fatalf("%d requests, origin %+v: the load did not reach the fault server through the stand-in", r.Requests, r.Origin)
			}
		})
	}
}
