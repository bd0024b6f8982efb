package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
	"github.com/gatecrash/gatecrash/scenarios"
)

// TestExamplesRun runs every scenario in examples/ as its comments say, the duration
// shortened: one for an external proxy with a Go reverse proxy standing in for the staging
// proxy (and the fault server at the fixed address), one for a proxy gatecrash starts from
// the example's own template with that real proxy. Each is valid, its load reaches the fault
// server through the proxy, and it ends with a verdict (0 or 3), not an error.
func TestExamplesRun(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) < 2 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			sc, err := scenarios.LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "run")
			args := []string{"run", f, "--duration", "2s", "-q", "--out", dir}
			if k := sc.Variants[0].Proxy.Kind; k == proxy.External {
				proxyAddr, originAddr := standInProxy(t)
				args = append(args, "--proxy-address", proxyAddr, "--origin-listen", originAddr)
			} else { // a proxy gatecrash starts from the example's own template: the real one
				e2e.Need(t, k)
			}
			relay := sc.Variants[0].Origin.Kind == scenarios.OriginRelay
			if relay { // a stand-in for the user's app behind the relay
				app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, strings.Repeat("the app's own answer\n", 20))
				}))
				t.Cleanup(app.Close)
				args = append(args, "--origin-upstream", app.URL)
			}
			code, out, errOut := runCLI(t, context.Background(), args...)
			started := sc.Variants[0].Proxy.Kind != proxy.External
			if code != 0 && (code != 3 || started) { // against the real proxy, the example's expectations hold
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			r, err := results.ReadFile(filepath.Join(dir, sc.Variants[0].Name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests == 0 || r.Origin == nil || r.Origin.RequestsStarted == 0 {
				t.Fatalf("%d requests, origin %+v: the load did not reach the fault server through the stand-in", r.Requests, r.Origin)
			}
			if started && r.Errors() == 0 {
				t.Fatalf("the config as it is (%s) shows no errors, as the example says it does: %+v", sc.Variants[0].Name, r.Outcomes)
			}
			if relay && (r.Origin.Relay == nil || r.Origin.Relay.ResponsesRelayed == 0 || r.Origin.Relay.AppErrors.Total() != 0) {
				t.Fatalf("the relay did not pass the stand-in app's answers on: %+v", r.Origin.Relay)
			}
		})
	}
}
