package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatecrash/gatecrash/results"
)

// TestShardsThroughLogsMergeAndCheck: three shards of one run print their results as log
// blocks; merge --from-logs reads them back from one interleaved log and adds them up to the
// whole run's request count; check gates on the merged result (exit 3 when a threshold is not
// met); a missing shard is refused by merge unless --allow-partial, and then fails check
// unless check is told --allow-partial too.
func TestShardsThroughLogsMergeAndCheck(t *testing.T) {
	url := startOrigin(t)
	ctx := context.Background()
	dir := t.TempDir()
	var logs []string
	for i := range 3 {
		code, out, errOut := runCLI(t, ctx, "load", url, "--shard", fmt.Sprintf("%d/3", i), "--run-id", "job-7", "--requests", "301",
			"--connections", "5", "--log-result", "-q")
		if code != 0 {
			t.Fatalf("shard %d: exit %d\n%s", i, code, errOut)
		}
		var prefixed []string
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			prefixed = append(prefixed, fmt.Sprintf("[pod/load-%d/load] %s", i, l))
		}
		logs = append(logs, strings.Join(prefixed, "\n")+"\n")
	}
	all := filepath.Join(dir, "all.log")
	os.WriteFile(all, []byte(strings.Join(logs, "")), 0o644)
	two := filepath.Join(dir, "two.log")
	os.WriteFile(two, []byte(logs[0]+logs[2]), 0o644)

	merged := filepath.Join(dir, "merged.json")
	code, _, errOut := runCLI(t, ctx, "merge", "--from-logs", all, "--out", merged)
	if code != 0 || !strings.Contains(errOut, "shards [0 1 2] of 3") {
		t.Fatalf("merge --from-logs: exit %d\n%s", code, errOut)
	}
	m, err := results.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 301 || m.Target.Connections != 5 {
		t.Fatalf("merged %d requests over %d connections, want the whole run's 301 over 5", m.Requests, m.Target.Connections)
	}

	if code, out, _ := runCLI(t, ctx, "check", merged, "--expect", "errors == 0", "--expect", "p99 < 10s"); code != 0 || strings.Count(out, "— met") != 2 {
		t.Fatalf("check, all met: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, ctx, "check", merged, "--expect", "ok > 1000"); code != 3 || !strings.Contains(out, "NOT MET") {
		t.Fatalf("check, not met: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, ctx, "check", merged, "--expect", "bogus < 1"); code != 2 || !strings.Contains(errOut, "neither an outcome class") {
		t.Fatalf("check, bad threshold: exit %d\n%s", code, errOut)
	}

	if code, _, errOut := runCLI(t, ctx, "merge", "--from-logs", two, "--out", filepath.Join(dir, "x.json")); code != 2 || !strings.Contains(errOut, "[1] are missing") {
		t.Fatalf("merge with a shard missing: exit %d\n%s", code, errOut)
	}
	partial := filepath.Join(dir, "partial.json")
	if code, _, errOut := runCLI(t, ctx, "merge", "--from-logs", two, "--allow-partial", "--out", partial); code != 0 || !strings.Contains(errOut, "MISSING shards [1]") {
		t.Fatalf("merge --allow-partial: exit %d\n%s", code, errOut)
	}
	if code, out, _ := runCLI(t, ctx, "check", partial, "--expect", "errors == 0"); code != 3 || !strings.Contains(out, "shards [1] of the run are missing") {
		t.Fatalf("check of a partial merge: exit %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, ctx, "check", partial, "--expect", "errors == 0", "--allow-partial"); code != 0 {
		t.Fatalf("check --allow-partial of a partial merge: exit %d", code)
	}
	if code, _, errOut := runCLI(t, ctx, "load", url, "--shard", "0/3", "--requests", "10", "-q"); code != 2 || !strings.Contains(errOut, "--run-id") {
		t.Fatalf("--shard without --run-id: exit %d\n%s", code, errOut)
	}
}
