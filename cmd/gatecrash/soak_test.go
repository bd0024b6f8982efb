//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

// TestLoadCheckpointSurvivesSIGKILL kills `gatecrash load` with SIGKILL mid-run: the last
// checkpoint is a valid result, marked partial, missing at most one interval, and report,
// compare and merge read it.
func TestLoadCheckpointSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	url := startOrigin(t, "delay:head-delay=1ms")
	dir := t.TempDir()
	out := filepath.Join(dir, "soak.json")
	const interval = 300 * time.Millisecond
	cmd := exec.Command(bin, "load", url, "--duration", "1h", "--connections", "4", "--out", out,
		"--checkpoint-interval", interval.String(), "-q")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1600 * time.Millisecond)
	cmd.Process.Kill() // SIGKILL: no chance to write anything more
	killedAt := time.Now()
	cmd.Wait()

	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatalf("the checkpoint after SIGKILL is not a readable result: %v", err)
	}
	if !r.Partial || r.Interrupted || r.Requests < 100 {
		t.Fatalf("checkpoint: partial %v, interrupted %v, %d requests; want partial with requests", r.Partial, r.Interrupted, r.Requests)
	}
	if missing := killedAt.Sub(r.End); missing > interval+200*time.Millisecond || missing < 0 {
		t.Fatalf("the checkpoint ends %v before the kill; at most one interval (%v) may be missing", missing, interval)
	}
	if r.Duration() < time.Second {
		t.Fatalf("the checkpoint covers %v of a 1.6s run", r.Duration())
	}
	for _, args := range [][]string{{"report", out}, {"compare", out, out}, {"report", "--format", "html", out}} {
		c := exec.Command(bin, args...)
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("gatecrash %s on the checkpoint: %v\n%s", strings.Join(args, " "), err, b)
		}
		if args[0] == "report" && len(args) == 2 && !strings.Contains(strings.ToLower(string(b)), "partial") {
			t.Fatalf("the report does not say the result is partial:\n%s", b)
		}
	}
	merged := filepath.Join(dir, "merged.json")
	if b, err := exec.Command(bin, "merge", "-o", merged, out).CombinedOutput(); err != nil {
		t.Fatalf("merge of the checkpoint: %v\n%s", err, b)
	}
	if m, err := results.ReadFile(merged); err != nil || !m.Partial || m.Requests != r.Requests {
		t.Fatalf("merged checkpoint: %v, %+v", err, m)
	}
}

// TestLoadHlogAddsUpToResult runs a load with a fault (two outcome classes) and --hlog, reads
// the log back with hdrhistogram-go's reader, and checks that per class the interval
// histograms add up to the result's histogram exactly.
func TestLoadHlogAddsUpToResult(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	url := startOrigin(t, "rst-headers:probability=0.02")
	dir := t.TempDir()
	out, hlog := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.hlog")
	c := exec.Command(bin, "load", url, "--duration", "1500ms", "--connections", "4", "--out", out,
		"--hlog", hlog, "--checkpoint-interval", "200ms", "-q")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Partial || len(r.Outcomes) < 2 {
		t.Fatalf("final result: partial %v, classes %v; want a final result with errors", r.Partial, r.Outcomes)
	}
	sums := readHlog(t, hlog)
	b, _ := os.ReadFile(hlog)
	if intervals := strings.Count(string(b), "Tag=ok,"); intervals < 5 {
		t.Fatalf("%d ok intervals in a 1.5s run at 200ms", intervals)
	}
	for c, o := range r.Outcomes {
		got := sums[c.String()]
		if got == nil || got.TotalCount() != o.Count || !got.Equals(o.Latency.Histogram) {
			t.Errorf("class %s: intervals add up to %v requests, the result has %d", c, got.TotalCount(), o.Count)
		}
	}
}

// TestRunSIGKILLLeavesNoProxy kills `gatecrash run` with SIGKILL while nginx runs: nginx and
// its workers go with it (parent-death signal), and the variant's checkpoint is readable. A
// plain second run in that folder refuses to overwrite the partial result; with --resume it
// clears what the first left (pid file, temp dir) and goes on as segment 1 for what is left.
func TestRunSIGKILLLeavesNoProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := proxy.FindBinary(proxy.Nginx, ""); err != nil {
		if os.Getenv("GATECRASH_E2E") == "require" {
			t.Fatalf("GATECRASH_E2E=require: %v", err)
		}
		t.Skipf("nginx not installed: %v", err)
	}
	t.Parallel()
	bin := buildBinary(t)
	out := filepath.Join(t.TempDir(), "run")
	tmp := t.TempDir()
	const planned = 4 * time.Second
	start := func(extra ...string) (*exec.Cmd, *bytes.Buffer) {
		args := append([]string{"run", "forced-race", "--proxy", "nginx", "--duration", planned.String(), "--out", out,
			"--variant", "post", "--checkpoint-interval", "300ms", "-q"}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &buf
	}
	cmd, _ := start()
	deadline := time.Now().Add(10 * time.Second)
	for len(processesMentioning(out)) < 2 && time.Now().Before(deadline) { // master and worker
		time.Sleep(20 * time.Millisecond)
	}
	if len(processesMentioning(out)) < 2 {
		cmd.Process.Kill()
		t.Fatal("nginx did not start")
	}
	time.Sleep(1200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline = time.Now().Add(5 * time.Second)
	for len(processesMentioning(out)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ps := processesMentioning(out); len(ps) > 0 {
		for _, p := range ps { // do not leave them to the next test
			var pid int
			if _, err := fmt.Sscanf(p, "/proc/%d/", &pid); err == nil {
				syscall.Kill(-pid, syscall.SIGKILL) // the proxy leads its process group
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		t.Fatalf("proxy processes outlived the SIGKILLed gatecrash: %v", ps)
	}
	seg0, err := results.ReadFile(filepath.Join(out, "post.json"))
	if err != nil || !seg0.Partial || seg0.Requests == 0 || seg0.Origin == nil || seg0.Origin.RequestsStarted == 0 || seg0.ProxyLog == nil {
		t.Fatalf("checkpoint of the killed run: %v %+v", err, seg0)
	}
	if _, err := os.Stat(filepath.Join(out, "post", "proxy.pid")); err != nil {
		t.Fatalf("the killed run's pid file should still be there for the next run to act on: %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) == 0 {
		t.Fatal("expected the killed run's temp dir to be left over")
	}

	plain, buf := start()
	if err := waitExit(t, plain, 30*time.Second); exitCode(err) != 2 || !strings.Contains(buf.String(), "continue it with --resume") {
		t.Fatalf("a plain run over the partial result: exit %d\n%s", exitCode(err), buf.String())
	}

	second, buf := start("--resume")
	if err := waitExit(t, second, 30*time.Second); exitCode(err) != 0 && exitCode(err) != 3 {
		t.Fatalf("resumed run: %v\n%s", err, buf.String())
	}
	if !strings.Contains(buf.String(), "resuming as segment 1") {
		t.Fatalf("the resumed run does not say so:\n%s", buf.String())
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("the resumed run did not clear what the killed one left in TMPDIR: %v", left)
	}
	if _, err := os.Stat(filepath.Join(out, "post", "proxy.pid")); !os.IsNotExist(err) {
		t.Fatalf("pid file after a clean second run: %v", err)
	}
	seg1, err := results.ReadFile(filepath.Join(out, "post.seg1.json"))
	if err != nil || seg1.Partial || seg1.Run == nil || seg1.Run.ID != seg0.Run.ID || seg1.Run.Segment != 1 {
		t.Fatalf("segment 1: %v, %+v", err, seg1)
	}
	if left := planned - seg0.Duration(); seg1.Duration() < left-500*time.Millisecond || seg1.Duration() > left+500*time.Millisecond {
		t.Fatalf("segment 1 ran %v; %v of the planned %v were left", seg1.Duration(), left, planned)
	}
	if again, _ := results.ReadFile(filepath.Join(out, "post.json")); again.Requests != seg0.Requests {
		t.Fatal("resuming rewrote segment 0's file")
	}
	if !strings.Contains(buf.String(), results.FormatCount(seg0.Requests+seg1.Requests)) {
		t.Fatalf("the comparison does not show the segments added up (%d + %d):\n%s", seg0.Requests, seg1.Requests, buf.String())
	}
	// The variant's interval log went on across the resume: its intervals add up to both
	// segments exactly.
	both, err := results.Merge(seg0, seg1)
	if err != nil {
		t.Fatal(err)
	}
	sums := readHlog(t, filepath.Join(out, "post.hlog"))
	for c, o := range both.Outcomes {
		if got := sums[c.String()]; got == nil || !got.Equals(o.Latency.Histogram) {
			t.Errorf("post.hlog: class %s does not add up to the two segments' %d requests", c, o.Count)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "post.seg1.hlog")); err == nil {
		t.Error("segment 1 wrote an interval log of its own instead of going on with the variant's")
	}
}

// TestRunServesMetrics scrapes `gatecrash run --metrics-listen` mid-variant: the exposition
// parses with Prometheus's text parser, carries the scenario and variant labels, the origin's
// injected faults and the proxy's log counts, and no count exceeds the variant's final result.
func TestRunServesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	out := filepath.Join(t.TempDir(), "run")
	addr := freeAddr(t)
	cmd := exec.Command(bin, "run", "forced-race", "--proxy", "embedded", "--duration", "2s", "--out", out,
		"--variant", "post", "--metrics-listen", addr, "-q")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	time.Sleep(1200 * time.Millisecond)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v\n%s", err, buf.String())
	}
	tp := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := tp.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("the Prometheus text parser rejects the exposition: %v", err)
	}
	if err := waitExit(t, cmd, 30*time.Second); exitCode(err) == -1 {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	r, err := results.ReadFile(filepath.Join(out, "post.json"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string, kv ...string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no family %s", name)
		}
	next:
		for _, m := range f.Metric {
			want := append([]string{"scenario", "forced-race", "variant", "post"}, kv...)
			for i := 0; i < len(want); i += 2 {
				ok := false
				for _, l := range m.Label {
					ok = ok || l.GetName() == want[i] && l.GetValue() == want[i+1]
				}
				if !ok {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
		t.Fatalf("%s has no sample %v", name, kv)
		return 0
	}
	if get("gatecrash_running") != 1 {
		t.Fatal("the mid-run scrape does not say the variant runs")
	}
	faults := get("gatecrash_origin_faults_injected_total", "kind", "close-on-reuse")
	if faults == 0 || faults > float64(r.Origin.Faults["close-on-reuse"]) {
		t.Fatalf("faults injected mid-run %v, final %d", faults, r.Origin.Faults["close-on-reuse"])
	}
	for _, c := range results.Classes() {
		if got := get("gatecrash_requests_total", "class", c.String()); got > float64(r.Count(c)) {
			t.Fatalf("requests_total{class=%s} mid-run %v exceeds the final %d", c, got, r.Count(c))
		}
	}
	if fams["gatecrash_proxy_log_lines_total"] == nil {
		t.Fatal("no proxy log counts")
	}
	// The variant's interval log adds up to its result, class by class.
	sums := readHlog(t, filepath.Join(out, "post.hlog"))
	for c, o := range r.Outcomes {
		if got := sums[c.String()]; got == nil || !got.Equals(o.Latency.Histogram) {
			t.Errorf("post.hlog: class %s does not add up to the result's %d requests", c, o.Count)
		}
	}
}

// readHlog reads an interval log with hdrhistogram-go's reader and adds up its intervals per tag.
func readHlog(t *testing.T, path string) map[string]*hdrhistogram.Histogram {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := hdrhistogram.NewHistogramLogReader(f)
	sums := map[string]*hdrhistogram.Histogram{}
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h == nil {
			return sums
		}
		if sums[h.Tag()] == nil {
			sums[h.Tag()] = results.NewHistogram().Histogram
		}
		sums[h.Tag()].Merge(h)
	}
}

// TestLoadResumesAfterSIGKILL: a load killed mid-run is started again with the same command;
// it goes on as segment 1 of the same run, for what is left of the planned duration, in its
// own file; merge adds the segments into the whole, which the origin's count confirms up to
// what the kill lost (at most one checkpoint interval and the requests in flight).
func TestLoadResumesAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	srv, addr := faultservertest.Origin(t)
	dir := t.TempDir()
	out, hlog := filepath.Join(dir, "soak.json"), filepath.Join(dir, "soak.hlog")
	const interval, planned, conns = 250 * time.Millisecond, 3 * time.Second, 4
	args := []string{"load", "http://" + addr + "/", "--duration", planned.String(), "--connections", fmt.Sprint(conns),
		"--out", out, "--hlog", hlog, "--checkpoint-interval", interval.String(), "-q"}
	first := exec.Command(bin, args...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1300 * time.Millisecond)
	first.Process.Kill()
	first.Wait()
	seg0, err := results.ReadFile(out)
	if err != nil || !seg0.Partial || seg0.Run == nil || seg0.Run.Segment != 0 {
		t.Fatalf("segment 0 checkpoint: %v %+v", err, seg0)
	}

	second := exec.Command(bin, args...) // the same command line
	b, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("resumed load: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "resuming run "+seg0.Run.ID+" as segment 1") {
		t.Fatalf("the second start does not say it resumes:\n%s", b)
	}
	seg1, err := results.ReadFile(filepath.Join(dir, "soak.seg1.json"))
	if err != nil {
		t.Fatalf("segment 1's file: %v\n%s", err, b)
	}
	if seg1.Partial || seg1.Run.ID != seg0.Run.ID || seg1.Run.Segment != 1 {
		t.Fatalf("segment 1: partial %v, run %+v", seg1.Partial, seg1.Run)
	}
	if again, _ := results.ReadFile(out); again.Requests != seg0.Requests {
		t.Fatal("resuming rewrote segment 0's file")
	}
	// Segment 1 ran for what was left of the plan.
	if left := planned - seg0.Duration(); seg1.Duration() < left-300*time.Millisecond || seg1.Duration() > left+300*time.Millisecond {
		t.Fatalf("segment 1 ran %v; %v of the planned %v were left", seg1.Duration(), left, planned)
	}

	whole := filepath.Join(dir, "whole.json")
	if b, err := exec.Command(bin, "merge", out, filepath.Join(dir, "soak.seg1.json"), "-o", whole).CombinedOutput(); err != nil ||
		!strings.Contains(string(b), "segments 0, 1 of run "+seg0.Run.ID) {
		t.Fatalf("merge of the segments: %v\n%s", err, b)
	}
	m, err := results.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != seg0.Requests+seg1.Requests || m.Partial || m.Target.Connections != conns {
		t.Fatalf("whole: %d requests (segments %d + %d), partial %v, connections %d", m.Requests, seg0.Requests, seg1.Requests, m.Partial, m.Target.Connections)
	}
	// The time between the segments is downtime, not load: the rate is over the active time,
	// and the report says it was merged and down.
	if active := seg0.Duration() + seg1.Duration(); m.Active() != active || m.Downtime() <= 0 || m.Downtime() != m.Duration()-active {
		t.Fatalf("whole: active %v (segments %v), down %v of %v", m.Active(), active, m.Downtime(), m.Duration())
	}
	if b, err := exec.Command(bin, "report", whole).CombinedOutput(); err != nil || !strings.Contains(string(b), "merged       from 2 pieces") ||
		!strings.Contains(string(b), "rates are over the active time") {
		t.Fatalf("report of the whole: %v\n%s", err, b)
	}
	// The interval log goes on across the resume: its intervals of both segments add up to the
	// merged result exactly (what the kill wrote after the last checkpoint was trimmed), on one
	// time line from segment 0's start.
	sums := readHlog(t, hlog)
	for c, o := range m.Outcomes {
		if got := sums[c.String()]; got == nil || !got.Equals(o.Latency.Histogram) {
			t.Errorf("soak.hlog: class %s does not add up to the merged result's %d requests", c, o.Count)
		}
	}
	if b, _ := os.ReadFile(hlog); strings.Count(string(b), "#[BaseTime:") != 1 || !strings.Contains(string(b), "segment 1 ") {
		t.Errorf("soak.hlog is not one log of both segments:\n%.600s", b)
	}
	// The origin answered every request of both processes; the whole may miss what the kill
	// lost: the requests after the last checkpoint on disk (up to an interval, plus the time a
	// checkpoint takes to write: the interval log's fsync, then the result's) and those in
	// flight.
	served := int64(srv.Stats().ResponsesCompleted)
	rate := float64(seg1.Requests) / seg1.Duration().Seconds()
	if lost := served - m.Requests; lost < 0 || float64(lost) > rate*(interval+250*time.Millisecond).Seconds()+conns {
		t.Fatalf("origin served %d, the merged segments hold %d: %d lost, more than one interval at %.0f req/s", served, m.Requests, lost, rate)
	}
	// The same segment twice is refused, even when duplicates are allowed.
	if b, err := exec.Command(bin, "merge", "--allow-duplicates", out, out, "-o", filepath.Join(dir, "dup.json")).CombinedOutput(); err == nil ||
		!strings.Contains(string(b), "both hold segment 0") {
		t.Fatalf("merge of segment 0 twice: %v\n%s", err, b)
	}
}

// TestLoadSaysWhenFileDescriptorsRunOut runs the binary under a 24-file limit with 40
// connections: it keeps going, counts what could not connect as connect-error, and says once
// what ran out and what to raise, on stderr and in the result.
func TestLoadSaysWhenFileDescriptorsRunOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	url := startOrigin(t)
	out := filepath.Join(t.TempDir(), "r.json")
	c := exec.Command("/bin/sh", "-c", `ulimit -n 24 && exec "$0" load "$1" --connections 40 --duration 500ms -q --out "$2"`, bin, url, out)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("load under a 24-file limit: %v\n%s", err, stderr.String())
	}
	if n := strings.Count(stderr.String(), "file descriptors ran out"); n != 1 {
		t.Fatalf("said %d times, want once:\n%s", n, stderr.String())
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "soft 24, hard 24") || r.Count(results.ConnectError) == 0 || r.Count(results.OK) == 0 {
		t.Fatalf("notes %q, connect-error %d, ok %d", r.Notes, r.Count(results.ConnectError), r.Count(results.OK))
	}
}
