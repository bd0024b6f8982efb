package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
			[]string{`--pattern: "wave" is not a pattern; allowed: closed, constant, bursts, gap-sweep`,
				"--body-size: -1 is not allowed", `--method: "GE T" is not an HTTP method`}},
		{"constant without rate", []string{"load", "http://h/", "--pattern", "constant"}, []string{"--rate: pattern constant needs a rate > 0"}},
		{"gap-sweep without center", []string{"load", "http://h/", "--pattern", "gap-sweep"}, []string{"--gap-center: pattern gap-sweep needs"}},
		{"rate without constant", []string{"load", "http://h/", "--rate", "5"}, []string{"--rate: only pattern constant takes a rate"}},
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
