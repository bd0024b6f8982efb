package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
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

// TestShardsOfOneOriginCountItOnce: three shards watch one origin through --origin-admin,
// side by side; each result holds a window of the origin's counters, and the merge counts the
// origin once — exactly what the origin's own /stats says — not once per shard (the merge
// used to add the shards' snapshots: 3x the faults). A segment of a shard resumed after a gap
// is counted apart, the gap not at all (TestMergeOriginWindows covers that case in results).
func TestShardsOfOneOriginCountItOnce(t *testing.T) {
	srv, addr := faultservertest.Origin(t, "status:code=503,probability=0.05")
	admin := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(admin.Close)
	ctx := context.Background()
	dir := t.TempDir()
	var wg sync.WaitGroup
	files := make([]string, 3)
	errs := make([]string, 3)
	for i := range 3 {
		files[i] = filepath.Join(dir, fmt.Sprintf("s%d.json", i))
		wg.Go(func() {
			code, _, errOut := runCLI(t, ctx, "load", "http://"+addr+"/", "--shard", fmt.Sprintf("%d/3", i), "--run-id", "one-origin",
				"--requests", "1500", "--pattern", "constant", "--rate", "1500", "--connections", "6", "--origin-admin", admin.URL,
				"--out", files[i], "-q")
			if code != 0 {
				errs[i] = fmt.Sprintf("shard %d: exit %d\n%s", i, code, errOut)
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
	merged := filepath.Join(dir, "m.json")
	if code, _, errOut := runCLI(t, ctx, "merge", "--out", merged, files[0], files[1], files[2]); code != 0 {
		t.Fatalf("merge: exit %d\n%s", code, errOut)
	}
	m, err := results.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if m.Origin == nil || m.Origin.Faults["status"] != st.Faults["status"] || m.Origin.RequestsStarted != st.RequestsStarted ||
		m.Origin.ConnectionsAccepted != st.ConnectionsAccepted {
		t.Fatalf("merged origin truth %+v; the origin's own /stats: faults %d, requests %d, connections %d", m.Origin,
			st.Faults["status"], st.RequestsStarted, st.ConnectionsAccepted)
	}
	if m.Requests != 1500 || int64(st.RequestsStarted) != m.Requests || st.Faults["status"] == 0 {
		t.Fatalf("merged %d requests, origin started %d with %d faults", m.Requests, st.RequestsStarted, st.Faults["status"])
	}
	if len(m.Origin.Windows) != 1 || m.Origin.Windows[0].Instance != st.Instance {
		t.Fatalf("merged windows %+v, want one window of instance %s", m.Origin.Windows, st.Instance)
	}
	if int64(len(m.Origin.Events)) != int64(st.Faults["status"]) {
		t.Fatalf("merged result holds %d fault events, the origin injected %d", len(m.Origin.Events), st.Faults["status"])
	}
}

// TestShardKilledTwiceResumesWithItsOwnCommand is a Kubernetes Indexed Job in small: three
// shards against one origin; shard 2's pod is killed twice and started again each time with
// the very same command line (--shard, --run-id, --out on the results volume), as
// backoffLimitPerIndex does. It goes on as segments 1 and 2 of its shard; the merge of every
// file holds exactly the requests of the pieces, the origin's faults exactly as its own /stats
// counts them, downtime reported, and shard 2's interval log adds up to its three segments.
func TestShardKilledTwiceResumesWithItsOwnCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	srv, addr := faultservertest.Origin(t, "status:code=503,probability=0.01")
	admin := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(admin.Close)
	dir := t.TempDir()
	args := func(i int) []string {
		return []string{"load", "http://" + addr + "/", "--shard", fmt.Sprintf("%d/3", i), "--run-id", "job-uid-1",
			"--pattern", "constant", "--rate", "300", "--connections", "6", "--duration", "4s",
			"--out", filepath.Join(dir, fmt.Sprintf("shard-%d.json", i)), "--hlog", filepath.Join(dir, fmt.Sprintf("shard-%d.hlog", i)),
			"--checkpoint-interval", "200ms", "--origin-admin", admin.URL, "-q"}
	}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			if b, err := exec.Command(bin, args(i)...).CombinedOutput(); err != nil {
				t.Errorf("shard %d: %v\n%s", i, err, b)
			}
		})
	}
	for range 2 { // started, killed after a second
		c := exec.Command(bin, args(2)...)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
		c.Process.Kill()
		c.Wait()
	}
	if b, err := exec.Command(bin, args(2)...).CombinedOutput(); err != nil || !strings.Contains(string(b), "as segment 2") {
		t.Fatalf("shard 2, third start: %v\n%s", err, b)
	}
	wg.Wait()
	files, _ := filepath.Glob(filepath.Join(dir, "shard-*.json"))
	if len(files) != 5 { // shard-0, shard-1, shard-2, shard-2.seg1, shard-2.seg2
		t.Fatalf("files %v", files)
	}
	var pieces int64
	for _, f := range files {
		r, err := results.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pieces += r.Requests
	}
	merged := filepath.Join(dir, "all.json")
	if b, err := exec.Command(bin, append([]string{"merge", "-o", merged}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("merge: %v\n%s", err, b)
	}
	m, err := results.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if m.Requests != pieces || len(m.Shards) != 3 || len(m.Segments) != 3 || m.Partial {
		t.Fatalf("merged %d requests (pieces %d), shards %v, segments %v, partial %v", m.Requests, pieces, m.Shards, m.Segments, m.Partial)
	}
	if m.Origin == nil || m.Origin.Faults["status"] != st.Faults["status"] || m.Origin.RequestsStarted != st.RequestsStarted {
		t.Fatalf("merged origin %+v; the origin's /stats: %d faults, %d requests", m.Origin, st.Faults["status"], st.RequestsStarted)
	}
	// Shard 2 was down while the others ran: the run as a whole has no downtime, the shard's
	// pieces do (merged alone).
	var s2 []string
	for _, f := range files {
		if strings.Contains(f, "shard-2") {
			s2 = append(s2, f)
		}
	}
	only2 := filepath.Join(dir, "s2.json")
	if b, err := exec.Command(bin, append([]string{"merge", "--allow-partial", "-o", only2}, s2...)...).CombinedOutput(); err != nil {
		t.Fatalf("merge shard 2: %v\n%s", err, b)
	}
	m2, _ := results.ReadFile(only2)
	if m2.Downtime() <= 0 || m.Downtime() != 0 {
		t.Fatalf("shard 2 down %v, the whole run down %v", m2.Downtime(), m.Downtime())
	}
	if b, err := exec.Command(bin, "report", merged).CombinedOutput(); err != nil || !strings.Contains(string(b), "shard 2 down ") ||
		!strings.Contains(string(b), "(2 gaps)") {
		t.Fatalf("the report of the whole run does not say shard 2 was down twice: %v\n%s", err, b)
	}
	sums := readHlog(t, filepath.Join(dir, "shard-2.hlog"))
	for c, o := range m2.Outcomes {
		if got := sums[c.String()]; got == nil || !got.Equals(o.Latency.Histogram) {
			t.Errorf("shard-2.hlog: class %s does not add up to its three segments' %d requests", c, o.Count)
		}
	}
}
