//go:build unix

package scenarios

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

// A proxy that exits in the middle of a run (a crash, an OOM kill) must stop the load, be
// named in the error, and be written into the variant's result — not leave the load hammering
// a dead port and a result that looks like a proxy full of connect errors.
func TestProxyDyingMidRunStopsTheLoadAndIsRecorded(t *testing.T) {
	t.Parallel()
	e2e.Need(t, proxy.Nginx)
	sc, err := Builtin("keepalive-race")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// Kill nginx's master from outside once it runs: its pid file path is in the config the
	// runner wrote into the run folder.
	killed := make(chan error, 1)
	go func() {
		re := regexp.MustCompile(`(?m)^pid (\S+);`)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			conf, err := os.ReadFile(filepath.Join(out, "default", "nginx.conf"))
			if m := re.FindSubmatch(conf); err == nil && m != nil {
				if b, err := os.ReadFile(string(m[1])); err == nil {
					time.Sleep(500 * time.Millisecond) // let the load get going
					pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
					killed <- syscall.Kill(pid, syscall.SIGKILL)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		killed <- errors.New("nginx's pid file never appeared")
	}()
	start := time.Now()
	run, err := sc.Run(context.Background(), RunOptions{Proxy: proxy.Nginx, Variants: []string{"default"},
		Duration: 30 * time.Second, OutDir: out})
	if kerr := <-killed; kerr != nil {
		t.Fatal(kerr)
	}
	if err == nil || !strings.Contains(err.Error(), "proxy nginx: nginx") || !strings.Contains(err.Error(), "exited during the run") {
		t.Fatalf("err = %v, want the proxy's exit named", err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("the run went on for %v after the proxy died (planned 30s)", el)
	}
	r, rerr := results.ReadFile(filepath.Join(out, "default.json"))
	if rerr != nil {
		t.Fatalf("the failed variant's result was not written: %v", rerr)
	}
	if !strings.Contains(r.Failure, "exited during the run") || r.Interrupted || r.Requests == 0 {
		t.Fatalf("result: failure %q, interrupted %v, %d requests; want the failure recorded with what was measured",
			r.Failure, r.Interrupted, r.Requests)
	}
	if len(run.Results) != 1 {
		t.Fatalf("run has %d results, want the failed variant's", len(run.Results))
	}
}
