package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodesAndMessages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "faults.yaml")
	os.WriteFile(bad, []byte("faults:\n  - kind: idle-close\n    timeout: 5s\n  - kind: rst-headers\n    afterbytes: 3\n"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	badPins := filepath.Join(dir, "pins.yaml")
	os.WriteFile(badPins, []byte("- {scenario: forced-race, variant: post, proxy: squid, outcome: \"502\"}\n"+
		"- {scenario: forced-race, variant: post, proxy: nginx, outcome: banana 50%}\n"), 0o644)
	noPins := filepath.Join(dir, "nopins.yaml")
	os.WriteFile(noPins, []byte("[]\n"), 0o644)
	originOnly := filepath.Join(dir, "origin.json")
	os.WriteFile(originOnly, []byte(`{"role":"origin","idle_timeout":{"n":3,"median_ns":5000000000,"min_ns":5000000000,"max_ns":5000000000}}`), 0o644)
	negative := filepath.Join(dir, "negative.json")
	os.WriteFile(negative, []byte(`{"role":"origin","idle_timeout":{"n":0,"median_ns":-5,"min_ns":-5,"max_ns":-5}}`), 0o644)
	noWindow := filepath.Join(dir, "nowindow.json")
	os.WriteFile(noWindow, []byte(`{"role":"proxy","opened":2,"pooled":2}`), 0o644)
	result := filepath.Join(dir, "result.json")
	os.WriteFile(result, []byte(`{"schema": "gatecrash.result/v1", "target": {}, "start": "2026-12-03T10:00:00Z", "end": "2026-12-03T10:00:01Z", "requests": 0, "late": 0, "connections": {"opened": 0, "reused_requests": 0}, "outcomes": {}}`), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"version", []string{"version"}, 0, ""},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"serve", "--bogus"}, 2, "unknown flag: --bogus"},
		{"bad flag value", []string{"serve", "--status", "abc"}, 2, `invalid argument "abc" for "--status"`},
		{"bad upstream", []string{"serve", "--upstream", "app:8000"}, 2, `--upstream: upstream "app:8000": want http://host:port or https://host:port`},
		{"upstream with canned answer", []string{"serve", "--upstream", "http://127.0.0.1:1", "--body-size", "5"}, 2,
			"--body-size sets the server's own answer; with --upstream the app answers"},
		{"upstream option alone", []string{"serve", "--upstream-insecure"}, 2, "go with --upstream"},
		{"upstream with http2", []string{"serve", "--upstream", "http://127.0.0.1:1", "--http2"}, 2,
			"--http2: the relay (--upstream) relays HTTP/1.1 only"},
		{"h2 fault without http2", []string{"serve", "--fault", "goaway-race:stream=2"}, 2,
			"goaway-race acts on HTTP/2 connections only, and http2 is off: set http2: true (gatecrash serve --http2)"},
		{"origin-upstream without a relay", []string{"run", "keepalive-race", "--origin-upstream", "http://127.0.0.1:1", "-q"}, 2,
			"--origin-upstream: variant default's origin is fault-server, not a relay"},
		{"bad origin-upstream", []string{"run", "relay-app", "--origin-upstream", "app:1", "-q"}, 2,
			`--origin-upstream: upstream "app:1": want http://host:port`},
		{"stray argument", []string{"serve", "extra"}, 2, `unknown command "extra"`},
		{"bad fault spec", []string{"serve", "--fault", "idle-close:timeout=5"}, 2,
			`--fault "idle-close:timeout=5": idle-close.timeout: "5" is not a duration`},
		{"unknown fault kind", []string{"serve", "--fault", "explode"}, 2, `unknown fault kind "explode"; allowed: close-no-goaway, close-on-reuse`},
		{"bad status flag", []string{"serve", "--status", "99"}, 2, "response.status: 99 is not allowed; allowed: 200 to 599"},
		{"config file error names file and line", []string{"serve", "--config", bad}, 2,
			bad + `:5:5: faults[1] (rst-headers): unknown field "afterbytes"; allowed: after-bytes`},
		{"missing config file", []string{"serve", "--config", filepath.Join(dir, "nope.yaml")}, 2, "no such file"},
		{"cert without key", []string{"serve", "--tls-cert", bad}, 2, "--tls-cert and --tls-key go together"},
		{"link jitter over latency", []string{"serve", "--link-latency", "1ms", "--link-jitter", "2ms"}, 2,
			"--link-jitter: 2ms is not allowed; allowed: 0 to the latency (1ms)"},
		{"racing chain is exit 3", []string{"probe", "chain", "--hop", "nginx=60s", "--hop", "uvicorn=5s"}, 3, "a pair of hops races"},
		{"bad hop", []string{"probe", "chain", "--hop", "nginx=sixty", "--hop", "uvicorn=5s"}, 2, `"sixty" is not a duration`},
		{"probe proxy without a proxy", []string{"probe", "proxy"}, 2, "give --proxy KIND"},
		{"h2c to an https URL", []string{"load", "https://127.0.0.1:1/", "--h2c"}, 2, `--h2c: "https://127.0.0.1:1/" is not allowed; h2c is HTTP/2 with prior knowledge over plain TCP`},
		{"probe proxy h2 on a kind without h2 upstreams", []string{"probe", "proxy", "--proxy", "varnish", "--http2"}, 2,
			"varnish has no HTTP/2 upstreams in gatecrash"},
		{"matrix zero budget", []string{"matrix", "--budget", "0s"}, 2, "--budget: 0s is not allowed; give a positive duration"},
		{"matrix unknown proxy", []string{"matrix", "--proxies", "squid"}, 2,
			`--proxies: "squid" is not a proxy gatecrash starts; allowed: embedded, nginx, haproxy, caddy, apache, varnish, trafficserver, nghttpx, node`},
		{"matrix unknown scenario", []string{"matrix", "--scenarios", "nope"}, 2, `--scenarios: no built-in scenario "nope"`},
		{"matrix only-pinned without pins", []string{"matrix", "--only-pinned"}, 2, "--only-pinned needs --check PINS.yaml"},
		{"matrix bad pins file", []string{"matrix", "--check", bad, "--only-pinned"}, 2, "want a list of {scenario, variant, proxy, outcome}"},
		{"probe origin bad scheme", []string{"probe", "origin", "ftp://127.0.0.1/"}, 2, "the scheme must be http or https"},
		{"broken scenario file names its line", []string{"run", "../../scenarios/testdata/broken.yaml"}, 2,
			`broken.yaml:15:3: load: unknown field "duraton"`},
		{"unknown built-in scenario", []string{"run", "keepalive-rac"}, 2, `no such scenario "keepalive-rac"; built-in scenarios: chain, client-stale-pool, cut-body, fin-mid-request, forced-race, gunicorn-race, h2-client-goaway, h2-close-no-goaway, h2-goaway-race, h2-max-requests, h2-max-streams, h2-rst-stream, keepalive-race, keepalive-race-seconds,`},
		{"unknown proxy kind", []string{"run", "keepalive-race", "--proxy", "squid"}, 2, `--proxy: unknown proxy kind "squid"`},
		{"scenario does not apply", []string{"run", "chain", "--proxy", "apache"}, 2, "does not apply to proxy apache"},
		{"variant that cannot be expressed", []string{"run", "slow-upstream", "--proxy", "apache", "--variant", "tight-timeout"}, 2,
			"proxy.vars.read_timeout: 200ms: apache takes whole seconds (`timeout=` on the ProxyPass)"},
		{"no such variant", []string{"run", "keepalive-race", "--variant", "fast", "--out", dir}, 2, `has no variant "fast"; it has: default, fixed`},
		{"validate broken", []string{"scenarios", "validate", "../../scenarios/testdata/broken.yaml"}, 2, `broken.yaml:1:1: apiVersion`},
		{"show unknown", []string{"scenarios", "show", "nope"}, 2, `no such scenario "nope"`},
		{"run --duration negative", []string{"run", "keepalive-race", "--duration", "-1s"}, 2, "--duration: -1s is not allowed"},
		{"run --duration 0", []string{"run", "keepalive-race", "--duration", "0"}, 2, "--duration: 0s is not allowed"},
		{"run --out names a file", []string{"run", "keepalive-race", "--out", bad}, 2, "--out: " + bad + " is a file"},
		{"run --out under a file", []string{"run", "keepalive-race", "--out", filepath.Join(bad, "run"), "--duration", "1s", "-q"}, 2,
			"--out: creating run folder: mkdir " + bad + ": not a directory"},
		{"load --duration 0", []string{"load", "http://127.0.0.1:1/", "--duration", "0"}, 2, "--duration: 0 is not allowed"},
		{"load --duration negative", []string{"load", "http://127.0.0.1:1/", "--duration", "-1s"}, 2, "--duration: -1s is negative; allowed: more than 0 (leave it out for the default)"},
		{"load --rate negative", []string{"load", "http://127.0.0.1:1/", "--pattern", "constant", "--rate", "-5"}, 2,
			"--rate: -5 is not allowed; allowed: a rate > 0"},
		{"load --rate NaN", []string{"load", "http://127.0.0.1:1/", "--pattern", "constant", "--rate", "NaN"}, 2,
			"--rate: NaN is not a number of requests per second; allowed: 0.001 to 1e+07"},
		{"load --rate Inf", []string{"load", "http://127.0.0.1:1/", "--pattern", "constant", "--rate", "Inf"}, 2, "--rate: +Inf is not a number"},
		{"load --rate tiny", []string{"load", "http://127.0.0.1:1/", "--pattern", "constant", "--rate", "1e-12"}, 2,
			"--rate: 1e-12 is not allowed; allowed: 0.001 to 1e+07 requests per second"},
		{"load --rate huge", []string{"load", "http://127.0.0.1:1/", "--pattern", "constant", "--rate", "5e8"}, 2,
			"--rate: 5e+08 is not allowed; allowed: 0.001 to 1e+07"},
		{"scenario rate .nan", []string{"scenarios", "validate", "testdata/nan-rate.yaml"}, 2, "nan-rate.yaml:4:3: load.rate: NaN is not a number"},
		// Inputs are regular files of bounded size; gates refuse to pass with nothing to judge.
		{"probe chain report from a device", []string{"probe", "chain", "--hop", "x=@/dev/zero", "--hop", "o=5s"}, 2,
			"--hop x=@/dev/zero: /dev/zero is a character device"},
		{"probe chain report from a FIFO", []string{"probe", "chain", "--hop", "x=@" + fifo, "--hop", "o=5s"}, 2, "is a named pipe"},
		{"probe chain negative timeout", []string{"probe", "chain", "--hop", "nginx=60s", "--hop", "o=@" + negative}, 2,
			"idle_timeout: 0 samples, min -5ns"},
		{"probe chain proxy report without a window", []string{"probe", "chain", "--hop", "p=@" + noWindow, "--hop", "o=5s"}, 2,
			"neither their idle_window nor never_closed: nothing to judge"},
		{"probe chain that cannot be judged", []string{"probe", "chain", "--hop", "p=@" + originOnly, "--hop", "o=5s"}, 2,
			"a pair of hops cannot be judged: p -> o: unknown"},
		{"matrix --check a device", []string{"matrix", "--check", "/dev/zero", "--only-pinned"}, 2, "--check: /dev/zero is a character device"},
		{"matrix --check a FIFO", []string{"matrix", "--check", fifo, "--only-pinned"}, 2, "--check: " + fifo + " is a named pipe"},
		{"matrix --check pins that cannot match", []string{"matrix", "--check", badPins, "--only-pinned"}, 2,
			`proxy "squid" is not a proxy the matrix starts`},
		{"matrix --check banana outcome", []string{"matrix", "--check", badPins, "--only-pinned"}, 2,
			`outcome "banana 50%" is not allowed; allowed: ok, "ok (retried)", or an error class`},
		{"matrix --check no pins", []string{"matrix", "--check", noPins, "--only-pinned"}, 2, "no pins in it"},
		{"scenario file a FIFO", []string{"scenarios", "validate", fifo}, 2, "reading scenario: " + fifo + " is a named pipe"},
		{"serve --config a device", []string{"serve", "--config", "/dev/zero"}, 2, "/dev/zero is a character device"},
		{"template beside the scenario file, not the working directory", []string{"scenarios", "validate", "testdata/tpl/own-template.yaml"}, 0, ""},
		{"template that spins", []string{"scenarios", "validate", "testdata/tpl/spin.yaml"}, 2,
			"spin.tmpl: line 1: range over 100000000000: at most 100000 iterations"},
		{"template from a device", []string{"scenarios", "validate", "testdata/tpl/zero.yaml"}, 2,
			"proxy template: /dev/zero is a character device"},
		{"report a device", []string{"report", "/dev/zero"}, 2, "/dev/zero: not a gatecrash result: it is a character device"},
		// Outputs are checked before the first request: a long run must not end with nothing saved.
		{"load --out in a missing folder", []string{"load", "http://127.0.0.1:1/", "--out", filepath.Join(dir, "nope", "x.json")}, 2,
			"--out: folder " + filepath.Join(dir, "nope") + " does not exist"},
		{"load --hlog in a missing folder", []string{"load", "http://127.0.0.1:1/", "--hlog", filepath.Join(dir, "nope", "x.hlog")}, 2,
			"--hlog: folder " + filepath.Join(dir, "nope") + " does not exist"},
		{"load --out a FIFO", []string{"load", "http://127.0.0.1:1/", "--out", fifo}, 2, "--out: " + fifo + " is a named pipe"},
		{"load --out a device even forced", []string{"load", "http://127.0.0.1:1/", "--out", "/dev/null", "--force"}, 2, "--out: /dev/null is a character device"},
		{"load --out another file", []string{"load", "http://127.0.0.1:1/", "--out", bad}, 2,
			"--out: " + bad + " exists and is not a gatecrash result"},
		{"load --hlog a result", []string{"load", "http://127.0.0.1:1/", "--hlog", result}, 2,
			"--hlog: " + result + " exists and is not a gatecrash interval log"},
		{"load --hlog the --out file", []string{"load", "http://127.0.0.1:1/", "--out", result, "--hlog", result}, 2,
			"--hlog: " + result + " is the --out file too"},
		{"merge --out a FIFO", []string{"merge", result, "--out", fifo}, 2, "--out: " + fifo + " is a named pipe"},
		{"merge --from-logs a FIFO", []string{"merge", "--from-logs", fifo, "--out", filepath.Join(dir, "m.json")}, 2,
			"--from-logs: " + fifo + " is a named pipe"},
		{"serve --header-faults bad", []string{"serve", "--header-faults", "maybe"}, 2, `--header-faults: "maybe" is not allowed; allowed: on, off`},
		{"proxy binary that is not the proxy", []string{"run", "keepalive-race", "--proxy", "nginx", "--proxy-binary", "/bin/true",
			"--variant", "default", "--duration", "1s", "-q", "--out", filepath.Join(dir, "true-run")}, 2,
			"exited during start-up (exit status 0): it printed nothing; is /bin/true a nginx binary?"},
		{"scenario with bad proxy vars", []string{"scenarios", "validate", "testdata/bad-vars.yaml"}, 2,
			`bad-vars.yaml:7:5: proxy.vars.read_timeout: "banana" is not a duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runCLI(t, context.Background(), tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

func TestServeStopsOnSignalAndPrintsCounters(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		code        int
		out, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, stderr := runCLI(t, ctx, "serve", "--listen", addr, "--admin", "", "--fault", "status:code=503,every=2")
		done <- result{code, out, stderr}
	}()
	c := dialWhenUp(t, addr)
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	var got []byte
	for !bytes.Contains(got, []byte("HTTP/1.1 503")) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("reading responses: %v (got %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	cancel() // what Main does on SIGINT/SIGTERM
	select {
	case r := <-done:
		if r.code != 0 {
			t.Fatalf("exit %d after a signal, want 0; stderr %s", r.code, r.stderr)
		}
		for _, want := range []string{"final ground-truth counters:", "requests read          2", "status               1"} {
			if !strings.Contains(r.out, want) {
				t.Fatalf("stdout lacks %q:\n%s", want, r.out)
			}
		}
		if !strings.Contains(r.stderr, "fault server: http://"+addr) {
			t.Fatalf("stderr lacks the listen line:\n%s", r.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop within 5s of the signal")
	}
}

func TestServeReportsAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, stdout, stderr := runCLI(t, context.Background(), "serve", "--listen", ln.Addr().String(), "--admin", "")
	if code != 1 || !strings.Contains(stderr, "HTTP listener on "+ln.Addr().String()) || !strings.Contains(stderr, "address already in use") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if stdout != "" {
		t.Fatalf("nothing was served, yet stdout has %q (all-zero counters look like a run that saw nothing)", stdout)
	}
}

// dialWhenUp connects to addr once a server started in the background listens there (at
// most 5 s).
func dialWhenUp(t *testing.T, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never listened: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeAddr returns a free loopback address below the ephemeral port range (proxy's picker):
// a port picked with :0 is an ephemeral one, which the thousands of client connections a
// load opens can take as their local port before the server binds it.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := proxy.FreeListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestVersionAndCompletion: --version on the root prints what `gatecrash version` prints
// (it was an unknown flag, exit 2), and the bash completion script is valid bash.
func TestVersionAndCompletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	code, out, errOut := runCLI(t, ctx, "--version")
	_, want, _ := runCLI(t, ctx, "version")
	if code != 0 || out != want || !strings.HasPrefix(out, "gatecrash ") {
		t.Fatalf("--version: exit %d, %q (version prints %q)\n%s", code, out, want, errOut)
	}
	code, script, _ := runCLI(t, ctx, "completion", "bash")
	if code != 0 || !strings.Contains(script, "gatecrash") {
		t.Fatalf("completion bash: exit %d", code)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	f := filepath.Join(t.TempDir(), "gatecrash.bash")
	os.WriteFile(f, []byte(script), 0o644)
	if b, err := exec.Command(bash, "-n", f).CombinedOutput(); err != nil {
		t.Fatalf("bash -n on the completion script: %v\n%s", err, b)
	}
}

// TestRunEndsWithVerdictReportAndNext: a run's output ends with the difference that matters
// most, where the HTML report is, and the next command to try.
func TestRunEndsWithVerdictReportAndNext(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runCLI(t, context.Background(), "run", "forced-race", "--variant", "post", "--variant", "get",
		"--duration", "1s", "-q", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"\nverdict: 502: post ", "get significantly lower", "\nreport:  " + filepath.Join(dir, "report.html"),
		"\nnext:    gatecrash run forced-race --proxy nginx"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// standInProxy starts a Go reverse proxy standing in for the user's staging proxy, its upstream
// a fixed loopback address where the fault server is to listen (--origin-listen).
func standInProxy(t *testing.T) (proxyAddr, originAddr string) {
	t.Helper()
	originAddr = freeAddr(t)
	target, _ := url.Parse("http://" + originAddr)
	srv := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), originAddr
}

// TestRunAgainstYourOwnProxy: --proxy-address and --origin-listen run a built-in scenario
// through a proxy the user runs (here a Go reverse proxy pointed at a fixed origin address)
// without a scenario file; without an address, --proxy external is a usage error that says
// what to give.
func TestRunAgainstYourOwnProxy(t *testing.T) {
	t.Parallel()
	proxyAddr, originAddr := standInProxy(t)
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runCLI(t, context.Background(), "run", "forced-race", "--variant", "get",
		"--proxy-address", proxyAddr, "--origin-listen", originAddr, "--duration", "1s", "-q", "--out", dir)
	if code != 0 && code != 3 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	r, err := results.ReadFile(filepath.Join(dir, "get.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Origin == nil || r.Origin.RequestsStarted == 0 || !strings.Contains(r.Target.URL, "http://"+proxyAddr) {
		t.Fatalf("the load did not go through the user's proxy to the fault server at %s: %+v", originAddr, r.Target)
	}
	code, _, errOut = runCLI(t, context.Background(), "run", "forced-race", "--proxy", "external", "-q", "--out", filepath.Join(t.TempDir(), "x"))
	if code != 2 || !strings.Contains(errOut, "--proxy external: give --proxy-address HOST:PORT") {
		t.Fatalf("--proxy external without an address: exit %d\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, context.Background(), "run", "forced-race", "--proxy", "nginx", "--proxy-address", "127.0.0.1:1", "-q")
	if code != 2 || !strings.Contains(errOut, "--proxy-address: is for a proxy you run") {
		t.Fatalf("--proxy-address with nginx: exit %d\n%s", code, errOut)
	}
}

// TestManPages: `gatecrash man DIR` (make man) writes a page per command, in man format.
func TestManPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, context.Background(), "man", dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, page := range []string{"gatecrash.1", "gatecrash-load.1", "gatecrash-run.1", "gatecrash-serve.1", "gatecrash-check.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil || !strings.Contains(string(b), ".TH \"GATECRASH\" \"1\"") || !strings.Contains(string(b), ".SH NAME") {
			t.Errorf("%s: %v\n%.300s", page, err, b)
		}
	}
}

// TestServeRelaysToTheApp: serve --upstream puts the fault server in front of an app: the
// app's answers come through, a fault acts on them, and the final counters show the relay's
// side with the app's errors apart.
func TestServeRelaysToTheApp(t *testing.T) {
	t.Parallel()
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "the real app\n")
	})}
	go app.Serve(appLn)
	defer app.Close()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		code        int
		out, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, stderr := runCLI(t, ctx, "serve", "--listen", addr, "--admin", "", "--upstream", "http://"+appLn.Addr().String(),
			"--fault", "rst-headers:match=/reset")
		done <- result{code, out, stderr}
	}()
	get := func(path string) (string, error) {
		c := dialWhenUp(t, addr)
		defer c.Close()
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		b, err := io.ReadAll(c)
		return string(b), err
	}
	if got, err := get("/"); err != nil || !strings.HasSuffix(got, "\r\n\r\nthe real app\n") {
		t.Fatalf("GET / through the relay: %q, %v", got, err)
	}
	if got, err := get("/reset"); !errors.Is(err, syscall.ECONNRESET) || got != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("GET /reset: %q, %v; want the app's status line, then a reset", got, err)
	}
	cancel()
	select {
	case r := <-done:
		if r.code != 0 {
			t.Fatalf("exit %d; stderr %s", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "relay: requests go to the app at http://"+appLn.Addr().String()) {
			t.Fatalf("stderr lacks the relay line:\n%s", r.stderr)
		}
		for _, want := range []string{"rst-headers          1", "requests forwarded   2 (0 on a reused connection); responses relayed 1",
			"app errors           0 "} {
			if !strings.Contains(r.out, want) {
				t.Fatalf("stdout lacks %q:\n%s", want, r.out)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop")
	}
}
