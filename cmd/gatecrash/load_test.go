package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"github.com/gatecrash/gatecrash/results"
)

func TestLoadFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no URL", []string{"load"}, []string{"accepts 1 arg(s), received 0", "usage: gatecrash load URL"}},
		{"bad scheme", []string{"load", "ftp://h/"}, []string{`URL: "ftp://h/": scheme "ftp" is not supported; allowed: http, https`}},
		{"no host", []string{"load", "http:///x"}, []string{"has no host"}},
		{"bad port", []string{"load", "http://h:99999/"}, []string{`port "99999" is not 1 to 65535`}},
		{"everything at once", []string{"load", "http://h/", "--pattern", "wave", "--body-size", "-1", "--method", "GE T"},
			[]string{`--pattern: "wave" is not a pattern; allowed: closed, constant, poisson, bursts, gap-sweep`,
				"--body-size: -1 is not allowed", `--method: "GE T" is not an HTTP method`}},
		{"constant without rate", []string{"load", "http://h/", "--pattern", "constant"}, []string{"--rate: pattern constant needs a rate > 0"}},
		{"gap-sweep without center", []string{"load", "http://h/", "--pattern", "gap-sweep"}, []string{"--gap-center: pattern gap-sweep needs"}},
		{"gap-clock without gap-sweep", []string{"load", "http://h/", "--gap-clock"}, []string{"--gap-clock: is for pattern gap-sweep, not closed"}},
		{"rate without constant", []string{"load", "http://h/", "--rate", "5"}, []string{"--rate: only patterns constant and poisson take a rate"}},
		{"zero connections", []string{"load", "http://h/", "--connections", "0"}, []string{"--connections: 0 is not allowed"}},
		{"bad header", []string{"load", "http://h/", "-H", "nocolon"}, []string{`--header: "nocolon" is not "Name: value"`}},
		{"bad duration", []string{"load", "http://h/", "--duration", "5"}, []string{`invalid argument "5" for "--duration"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runCLI(t, context.Background(), tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestLoadWritesResult(t *testing.T) {
	t.Parallel()
	url := startOrigin(t, "status:code=502,every=10")
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runCLI(t, context.Background(), "load", url, "--requests", "100", "--connections", "2",
		"--method", "post", "--body-size", "10", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"POST " + url, "requests 100", "502", "10.00%"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 100 || r.Count(results.Status502) != 10 || r.Target.Method != "POST" || r.Interrupted {
		t.Fatalf("result: %d requests, %d 502, method %s, interrupted %v", r.Requests, r.Count(results.Status502), r.Target.Method, r.Interrupted)
	}
}

func TestLoadInterruptedWritesPartialResultAndExits130(t *testing.T) {
	t.Parallel()
	url := startOrigin(t, "delay:head-delay=20ms")
	out := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel) // what the first SIGINT does
	code, stdout, stderr := runCLI(t, ctx, "load", url, "--duration", "1h", "--connections", "2", "--out", out)
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr %s", code, stderr)
	}
	if !strings.Contains(stdout, "INTERRUPTED") {
		t.Fatalf("summary does not say it was interrupted:\n%s", stdout)
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatalf("partial result not readable: %v", err)
	}
	if !r.Interrupted || r.Count(results.OK) < 10 {
		t.Fatalf("partial result: interrupted %v, ok %d", r.Interrupted, r.Count(results.OK))
	}
}

// startOrigin serves a fault server with the given fault specs and returns its base URL.
func startOrigin(t *testing.T, specs ...string) string {
	t.Helper()
	_, addr := faultservertest.Origin(t, specs...)
	return "http://" + addr + "/"
}

// TestLoadBodyFile: --body-file sends the file as every request's body (hey -D, vegeta
// @body), byte for byte; with --body-size it is refused, and a FIFO is refused before it is
// opened.
func TestLoadBodyFile(t *testing.T) {
	t.Parallel()
	body := []byte("{\"order\": 42, \"note\": \"exact bytes\"}\n")
	var mu sync.Mutex
	var seen, same int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen++
		if bytes.Equal(b, body) && r.ContentLength == int64(len(body)) {
			same++
		}
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	f := filepath.Join(dir, "body.json")
	os.WriteFile(f, body, 0o644)
	ctx := context.Background()
	if code, out, errOut := runCLI(t, ctx, "load", srv.URL+"/", "--method", "POST", "--body-file", f, "--requests", "20", "--connections", "2", "-q"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen != 20 || same != 20 {
		t.Fatalf("the server saw %d requests, %d with the file's body", seen, same)
	}
	if code, _, errOut := runCLI(t, ctx, "load", srv.URL+"/", "--body-file", f, "--body-size", "10", "--requests", "1"); code != 2 ||
		!strings.Contains(errOut, "leave --body-size out") {
		t.Fatalf("--body-file with --body-size: exit %d\n%s", code, errOut)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, ctx, "load", srv.URL+"/", "--body-file", fifo, "--requests", "1"); code != 2 || !strings.Contains(errOut, "is a named pipe") {
		t.Fatalf("--body-file a FIFO: exit %d\n%s", code, errOut)
	}
}

// TestLoadTargets: --targets sends a vegeta-style file's requests in turn — each with its
// method, path, own headers and @body, byte for byte — and the result counts outcomes per
// target (a target the server answers 502 shows its 502s, the others none); a file that is
// wrong in any way is refused with exit 2, naming the file and line.
func TestLoadTargets(t *testing.T) {
	t.Parallel()
	body := []byte("{\"order\": 42}\n")
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		key := r.Method + " " + r.URL.Path
		switch {
		case r.URL.Path == "/a" && r.Header.Get("X-Tag") != "one",
			r.URL.Path == "/b" && (!bytes.Equal(b, body) || r.Header.Get("Content-Type") != "application/json"),
			r.URL.Path == "/b" && r.Header.Get("X-All") != "yes": // --header goes to every target
			key += " (wrong)"
		}
		mu.Lock()
		seen[key]++
		mu.Unlock()
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "body.json"), body, 0o644)
	targets := filepath.Join(dir, "targets.txt")
	os.WriteFile(targets, []byte("# three targets\nGET "+srv.URL+"/a\nX-Tag: one\n\nPOST "+srv.URL+"/b\nContent-Type: application/json\n@body.json\n\n"+
		"\n\nDELETE "+srv.URL+"/bad\n"), 0o644)
	out := filepath.Join(dir, "r.json")
	ctx := context.Background()
	code, stdout, errOut := runCLI(t, ctx, "load", "--targets", targets, "--header", "X-All: yes", "--requests", "300", "--connections", "3", "-q", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, errOut)
	}
	mu.Lock()
	if want := map[string]int{"GET /a": 100, "POST /b": 100, "DELETE /bad": 100}; !maps.Equal(seen, want) {
		t.Errorf("the server saw %v, want %v", seen, want)
	}
	mu.Unlock()
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Target.Targets != 3 || r.Target.Method != "mixed" || len(r.PerTarget) != 3 {
		t.Fatalf("target %+v, per target %+v", r.Target, r.PerTarget)
	}
	for i, want := range []struct {
		method, path string
		class        results.Class
	}{{"GET", "/a", results.OK}, {"POST", "/b", results.OK}, {"DELETE", "/bad", results.Status502}} {
		pt := r.PerTarget[i]
		if pt.Method != want.method || pt.URL != srv.URL+want.path || pt.Requests != 100 || pt.Outcomes[want.class] != 100 {
			t.Errorf("target %d: %+v, want 100 %s", i, pt, want.class)
		}
	}
	if !strings.Contains(stdout, "per target (3 targets, sent in turn)") || !regexp.MustCompile(`DELETE \S+/bad\s+100\s+100 \(100.00%\)\s+502 100`).MatchString(stdout) {
		t.Errorf("summary without the per-target table:\n%s", stdout)
	}

	// Refused, with exit 2 and the file and line.
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a URL too", []string{"load", srv.URL, "--targets", targets}, "unknown command"},
		{"--method too", []string{"load", "--targets", targets, "--method", "PUT"}, "leave --method out"},
		{"--body-file too", []string{"load", "--targets", targets, "--body-file", targets}, "leave --body-file out"},
		{"another host", []string{"load", "--targets", write("hosts.txt", "GET "+srv.URL+"/\n\nGET http://127.0.0.2:1/\n")},
			"hosts.txt:3: http://127.0.0.2:1/ goes to http://127.0.0.2:1; every target must go to " + srv.URL},
		{"no URL", []string{"load", "--targets", write("nourl.txt", "GET\n")}, "nourl.txt:1: \"GET\" is not a request line"},
		{"bad header", []string{"load", "--targets", write("hdr.txt", "GET "+srv.URL+"/\nnot a header\n")}, "hdr.txt:2: \"not a header\" is not a header"},
		{"missing body", []string{"load", "--targets", write("nobody.txt", "POST "+srv.URL+"/\n@nope.json\n")}, "nobody.txt:2: body: @"},
		{"body a FIFO", []string{"load", "--targets", write("fifobody.txt", "POST "+srv.URL+"/\n@"+fifo+"\n")}, "is a named pipe"},
		{"empty", []string{"load", "--targets", write("empty.txt", "# nothing\n\n")}, "no targets in it"},
		{"targets a FIFO", []string{"load", "--targets", fifo}, "--targets: " + fifo + " is a named pipe"},
	} {
		code, _, errOut := runCLI(t, ctx, append(tc.args, "--requests", "1")...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, want 2 with %q:\n%s", tc.name, code, tc.want, errOut)
		}
	}
}
