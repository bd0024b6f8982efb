package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatecrash/gatecrash/results"
)

// twoShards measures two real loads against one origin (every 10th response a 502).
func twoShards(t *testing.T) (string, string) {
	t.Helper()
	url := startOrigin(t, "status:code=502,every=10")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, out := range []string{a, b} {
		if code, _, stderr := runCLI(t, context.Background(), "load", url, "--requests", "200", "--connections", "2", "--out", out, "-q"); code != 0 {
			t.Fatalf("load: %s", stderr)
		}
	}
	return a, b
}

func TestReportCompareMerge(t *testing.T) {
	t.Parallel()
	a, b := twoShards(t)
	dir := filepath.Dir(a)

	code, out, stderr := runCLI(t, context.Background(), "report", a, "--format", "markdown")
	if code != 0 || !strings.Contains(out, "| 502 | 20 | 10.00% |") {
		t.Fatalf("report: exit %d %s\n%s", code, stderr, out)
	}
	code, out, _ = runCLI(t, context.Background(), "compare", a, b)
	if code != 0 || !strings.Contains(out, "502: ") || !strings.Contains(out, "not significantly different") {
		t.Fatalf("compare: exit %d\n%s", code, out)
	}
	merged := filepath.Join(dir, "m.json")
	if code, _, stderr := runCLI(t, context.Background(), "merge", a, b, "--out", merged); code != 0 {
		t.Fatalf("merge: %s", stderr)
	}
	m, err := results.ReadFile(merged)
	if err != nil || m.Requests != 400 || m.Count(results.Status502) != 40 {
		t.Fatalf("merged: %v %+v", err, m)
	}

	// Bad input: each bad file named, with what is wrong; exit 2.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"schema": "gatecrash.result/v1", "requests": `), 0o644)
	for _, args := range [][]string{{"report", bad}, {"compare", a, bad}, {"merge", bad, "--out", merged}} {
		code, _, stderr := runCLI(t, context.Background(), args...)
		if code != 2 || !strings.Contains(stderr, bad+": not a gatecrash result") {
			t.Fatalf("%v: exit %d, %s", args, code, stderr)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", a, "--format", "pdf"}, `--format: "pdf" is not allowed; allowed: text, markdown, json, html`},
		{[]string{"merge", a}, "--out: missing"},
		{[]string{"merge", a, a, "--out", merged}, a + " and " + a + " both hold segment 0 of run"},
		{[]string{"compare", a}, "requires at least 2 arg(s)"},
		{[]string{"report", filepath.Join(dir, "nope.json")}, "no such file"},
	} {
		if code, _, stderr := runCLI(t, context.Background(), tc.args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Fatalf("%v: exit %d, %s", tc.args, code, stderr)
		}
	}
}
