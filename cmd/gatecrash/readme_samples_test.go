package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
)

var updateSamples = flag.Bool("update-samples", false, "rewrite the README's output samples from real runs (make readme-samples)")

// A readmeSample is an output sample in the README: the block between
// "<!-- sample NAME -->" and "<!-- /sample -->", "$ " and the command as shown, then what it
// printed (stderr and stdout as a terminal interleaves them), then "exit N" when it exits
// with N != 0. The command runs with the shown origin address (127.0.0.1:9001) replaced by
// one the test started.
type readmeSample struct {
	name, shown string
	// check, when set, is what the test runs instead of shown to compare the shape: the same
	// output from a faster run (shorter timeouts); -update-samples always runs shown.
	check string
	exit  int
	// origin, when set, are the fault specs of a fault server the command is pointed at
	// (127.0.0.1:9001 in the command); with originH2 it speaks HTTP/2 (h2c) too.
	origin   []string
	originH2 bool
	// app, when set, is an app server the command is pointed at (127.0.0.1:8000 in the
	// command), with appVars, or checkVars when the test runs check.
	app                proxy.AppKind
	appVars, checkVars map[string]string
	// needs are the proxy binaries the command starts.
	needs []proxy.Kind
}

var readmeSamples = []readmeSample{
	{name: "run", shown: "gatecrash run keepalive-race"},
	{name: "load", shown: "gatecrash load http://127.0.0.1:9001/ --duration 3s --connections 32",
		origin: []string{"status:code=502,every=100"}},
	{name: "load-h2", shown: "gatecrash load http://127.0.0.1:9001/ --http2 --connections 4 --streams 25 --duration 3s",
		origin: []string{"rst-stream:code=refused-stream,every=500", "goaway-after:streams=2000,close-after=1s"}, originH2: true},
	{name: "serve-bad-fault", shown: "gatecrash serve --fault rst-headers:after_bytes=20", exit: 2},
	{name: "probe-chain", shown: "gatecrash probe chain --hop nginx=60s --hop uvicorn=5s", exit: 3},
	{name: "probe-origin", shown: "gatecrash probe origin http://127.0.0.1:8000/ --max-requests 200",
		app: proxy.Uvicorn, checkVars: map[string]string{"idle_timeout": "1s"}},
	{name: "probe-proxy", shown: "gatecrash probe proxy --proxy nginx --var idle_timeout=60s --max-wait 70s",
		check: "gatecrash probe proxy --proxy nginx --var idle_timeout=2s --max-wait 5s", needs: []proxy.Kind{proxy.Nginx}},
	{name: "probe-proxy-h2", shown: "gatecrash probe proxy --proxy caddy --http2 --var idle_timeout=2s --max-wait 10s",
		check: "gatecrash probe proxy --proxy caddy --http2 --var idle_timeout=2s --max-wait 3s", needs: []proxy.Kind{proxy.Caddy}},
}

const (
	sampleOrigin = "127.0.0.1:9001"
	sampleApp    = "127.0.0.1:8000"
)

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
		// One subtest each, one after another: a sample whose proxy or app server is not
		// installed skips alone.
		t.Run(s.name, func(t *testing.T) {
			block, start, end, err := sampleBlock(text, s.name)
			if err != nil {
				t.Fatal(err)
			}
			got := runSample(t, s)
			if *updateSamples {
				text = text[:start] + got + text[end:]
				return
			}
			if diff := shapeDiff(block, got); diff != "" {
				t.Errorf("README sample %q is not what `%s` prints now (make readme-samples rewrites it):\n%s", s.name, s.shown, diff)
			}
		})
	}
	if *updateSamples && !t.Failed() {
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

// runSample runs s's command (check's when checking and it has one) and returns its block
// as the README shows it.
func runSample(t *testing.T, s readmeSample) string {
	t.Helper()
	for _, k := range s.needs {
		e2e.Need(t, k)
	}
	cmdline, vars := s.shown, s.appVars
	if !*updateSamples && s.check != "" {
		cmdline = s.check
	}
	if !*updateSamples && s.checkVars != nil {
		vars = s.checkVars
	}
	real := map[string]string{} // shown address -> the one started
	if len(s.origin) > 0 {
		if s.originH2 {
			_, real[sampleOrigin], _ = faultservertest.OriginH2(t, s.origin...)
		} else {
			real[sampleOrigin] = strings.TrimSuffix(strings.TrimPrefix(startOrigin(t, s.origin...), "http://"), "/")
		}
	}
	if s.app != "" {
		e2e.Need(t, s.app)
		listen, err := proxy.FreeListenAddr()
		if err != nil {
			t.Fatal(err)
		}
		app, err := proxy.StartApp(context.Background(), proxy.AppConfig{Kind: s.app, Vars: vars, Listen: listen, RunDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Stop() })
		real[sampleApp] = listen
	}
	for shown, addr := range real {
		cmdline = strings.ReplaceAll(cmdline, shown, addr)
	}
	var out syncBuffer // stdout and stderr in one, as a terminal shows them
	code := run(context.Background(), strings.Fields(cmdline)[1:], &out, &out)
	if code != s.exit {
		t.Fatalf("`%s`: exit %d, want %d\n%s", cmdline, code, s.exit, out.String())
	}
	printed := out.String()
	for shown, addr := range real {
		printed = strings.ReplaceAll(printed, addr, shown)
	}
	b := "$ " + s.shown + "\n" + printed
	if s.exit != 0 {
		b += fmt.Sprintf("exit %d\n", s.exit)
	}
	return b
}

var (
	sampleAddr   = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	sampleNumber = regexp.MustCompile(`[+-]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?(µs|ms|s|m|h|%|x|/s)?`)
	sampleSpace  = regexp.MustCompile(`\s+`)
	sampleRun    = regexp.MustCompile(`#+`)
)

// shape is a sample line with what differs from run to run taken out.
func shape(line string) string {
	line = sampleAddr.ReplaceAllString(line, "ADDR")
	line = sampleNumber.ReplaceAllString(line, "#")
	line = sampleRun.ReplaceAllString(line, "N") // 1m10s and 5s alike
	return strings.TrimSpace(sampleSpace.ReplaceAllString(line, " "))
}

// runRows are comparison rows whose cells say what a run happened to see, not only how
// much: an origin's timer that fired late under load gives the fixed variant "idle-close 2"
// where the sample shows "0", and "absorbed" follows. Only their labels are compared.
//
// The same for probe origin's race-window rows ("1ms before  answered" one run, "lost" the
// next: where an origin's close lands within a millisecond is the run's).
var runRows = []string{"faults injected", "absorbed by proxy", "first error after", "worst idle gap", "N before", "right at", "N after"}

// shapeDiff compares two samples line by line by shape and says how they differ ("" when
// they do not). Rows that name a proxy log line ("log: ...") are left out: which ones a run
// counts is the run's; of runRows only the label is compared.
func shapeDiff(readme, now string) string {
	lines := func(s string) []string {
		var out []string
		for l := range strings.Lines(s) {
			sh := shape(l)
			if strings.HasPrefix(sh, "log: ") {
				continue
			}
			for _, r := range runRows {
				if strings.HasPrefix(sh, r+" ") {
					sh = r + " ..."
				}
			}
			out = append(out, sh)
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
