package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateSamples = flag.Bool("update-samples", false, "rewrite the README's output samples from real runs (make readme-samples)")

// A readmeSample is an output sample in the README: the block between
// "<!-- sample NAME -->" and "<!-- /sample -->", "$ " and the command as shown, then what it
// printed (stderr and stdout as a terminal interleaves them), then "exit N" when it exits
// with N != 0. The command runs with the shown origin address (127.0.0.1:9001) replaced by
// one the test started.
type readmeSample struct {
	name, shown string
	exit        int
	// origin, when set, are the fault specs of a fault server the command is pointed at.
	origin []string
}

var readmeSamples = []readmeSample{
	{name: "run", shown: "gatecrash run keepalive-race"},
	{name: "load", shown: "gatecrash load http://127.0.0.1:9001/ --duration 3s --connections 32",
		origin: []string{"status:code=502,every=100"}},
	{name: "serve-bad-fault", shown: "gatecrash serve --fault rst-headers:after_bytes=20", exit: 2},
	{name: "probe-chain", shown: "gatecrash probe chain --hop nginx=60s --hop uvicorn=5s", exit: 3},
}

const sampleOrigin = "127.0.0.1:9001"

// TestReadmeSamples runs every README output sample's command and fails when the README no
// longer shows what the code prints: the lines compared with their numbers, addresses and
// column widths left out (they differ from run to run), and the proxy-log rows, which name
// the log lines a run happened to count. With -update-samples (make readme-samples) it
// writes what the runs printed into the README instead. It runs alone (it changes the
// working folder, where gatecrash run writes its run folder).
func TestReadmeSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the main job (30 s)")
	}
	path, err := filepath.Abs("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	text := string(readme)
	for _, s := range readmeSamples {
		block, start, end, err := sampleBlock(text, s.name)
		if err != nil {
			t.Fatal(err)
		}
		got := runSample(t, s)
		if *updateSamples {
			text = text[:start] + got + text[end:]
			continue
		}
		if diff := shapeDiff(block, got); diff != "" {
			t.Errorf("README sample %q is not what `%s` prints now (make readme-samples rewrites it):\n%s", s.name, s.shown, diff)
		}
	}
	if *updateSamples {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sampleBlock returns the text of sample name's code block in the README, and where it is.
func sampleBlock(readme, name string) (block string, start, end int, err error) {
	open := "<!-- sample " + name + " -->\n```\n"
	i := strings.Index(readme, open)
	if i < 0 {
		return "", 0, 0, fmt.Errorf("README has no %q", strings.TrimSpace(open))
	}
	start = i + len(open)
	j := strings.Index(readme[start:], "```\n<!-- /sample -->")
	if j < 0 {
		return "", 0, 0, fmt.Errorf("README sample %q is not closed by ```\\n<!-- /sample -->", name)
	}
	end = start + j
	return readme[start:end], start, end, nil
}

// runSample runs s's command and returns its block as the README shows it.
func runSample(t *testing.T, s readmeSample) string {
	t.Helper()
	shown := s.shown
	addr := sampleOrigin
	if len(s.origin) > 0 {
		addr = strings.TrimSuffix(strings.TrimPrefix(startOrigin(t, s.origin...), "http://"), "/")
	}
	args := strings.Fields(strings.ReplaceAll(shown, sampleOrigin, addr))[1:]
	var out syncBuffer // stdout and stderr in one, as a terminal shows them
	code := run(context.Background(), args, &out, &out)
	if code != s.exit {
		t.Fatalf("`%s`: exit %d, want %d\n%s", shown, code, s.exit, out.String())
	}
	b := "$ " + shown + "\n" + strings.ReplaceAll(out.String(), addr, sampleOrigin)
	if s.exit != 0 {
		b += fmt.Sprintf("exit %d\n", s.exit)
	}
	return b
}

var (
	sampleAddr   = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	sampleNumber = regexp.MustCompile(`[+-]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?(µs|ms|s|m|h|%|x|/s)?`)
	sampleSpace  = regexp.MustCompile(`\s+`)
)

// shape is a sample line with what differs from run to run taken out.
func shape(line string) string {
	line = sampleAddr.ReplaceAllString(line, "ADDR")
	line = sampleNumber.ReplaceAllString(line, "N")
	return strings.TrimSpace(sampleSpace.ReplaceAllString(line, " "))
}

// shapeDiff compares two samples line by line by shape and says how they differ ("" when
// they do not). Rows that name a proxy log line ("log: ...") are left out: which ones a run
// counts is the run's.
func shapeDiff(readme, now string) string {
	lines := func(s string) []string {
		var out []string
		for l := range strings.Lines(s) {
			if sh := shape(l); !strings.HasPrefix(sh, "log: ") {
				out = append(out, sh)
			}
		}
		return out
	}
	a, b := lines(readme), lines(now)
	var diff []string
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			diff = append(diff, fmt.Sprintf("line %d\n  README: %s\n  prints: %s", i+1, x, y))
		}
	}
	return strings.Join(diff, "\n")
}
