//go:build unix

package scenarios

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

// The seed itself: nginx in front of a real uvicorn, across a 1 ms link. The default variant
// gets 502s within its 10 s; the fixed one none, with its upper bound. Not parallel: the race
// window is about one link round trip, and with the package's other e2e tests (a dozen real
// proxies) on two cores the scheduling noise shrank it to no 502 in 80 requests once in CI.
// A sequential test runs before the package's parallel ones resume.
func TestUvicornRaceThroughNginx(t *testing.T) {
	e2e.Need(t, proxy.Nginx, proxy.Uvicorn)
	sc, err := Builtin("uvicorn-race")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	run, err := sc.Run(context.Background(), RunOptions{Proxy: proxy.Nginx, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	def, fixed := run.Results[0], run.Results[1]
	verdictsMet := run.ThresholdsMet()
	// About one request in a hundred hits the window, some 6 a run: a run with none happens
	// (twice in a row as CI's first test on 2026-12-05, where runs by hand that hour gave 5,
	// 13 and 23). Then the default variant runs again, at most twice, and one of those must
	// find them: the race is there, not an accident of one run.
	for try := 1; def.Count(results.Status502) == 0 && try <= 2; try++ {
		t.Logf("default: no 502 in %d requests over %v; running it again (%d of 2)", def.Requests, def.Duration(), try)
		again, err := sc.Run(context.Background(), RunOptions{Proxy: proxy.Nginx, OutDir: t.TempDir(), Variants: []string{"default"}})
		if err != nil {
			t.Fatal(err)
		}
		def, verdictsMet = again.Results[0], again.ThresholdsMet() && fixed.Errors() == 0
	}
	if def.Count(results.Status502) == 0 {
		t.Fatalf("default: no 502 in %d requests over %v, three runs in a row", def.Requests, def.Duration())
	}
	if def.Duration() > 11*time.Second {
		t.Errorf("default ran %v; the scenario's budget is 10 s", def.Duration())
	}
	if n := def.ProxyLog["upstream prematurely closed connection"]; n == 0 {
		t.Errorf("nginx logged no 'upstream prematurely closed connection': %v", def.ProxyLog)
	}
	if fixed.Errors() != 0 {
		t.Errorf("fixed: %d errors in %d requests", fixed.Errors(), fixed.Requests)
	}
	if def.Origin != nil || !strings.Contains(strings.Join(def.Notes, "\n"), "origin uvicorn") {
		t.Errorf("a real origin has no fault-server counters, and the result says so: origin %v, notes %q", def.Origin, def.Notes)
	}
	if !verdictsMet {
		t.Errorf("verdicts: %+v (default's from its last run)", run.Verdicts)
	}
}

// The relay-app scenario as written: a real uvicorn behind the relay, the rare reset seen by
// the client exactly as often as the relay injected it, and the report's relay line.
func TestRelayAppScenario(t *testing.T) {
	e2e.Need(t, proxy.Uvicorn)
	run, r := runBuiltin(t, "relay-app", "rare-reset", proxy.Embedded, 5*time.Second)
	o := origin(t, r)
	if o.Relay == nil {
		t.Fatal("a relay origin has no relay counts in the result")
	}
	if injected := int64(o.Faults["rst-headers"]); injected == 0 || injected != r.Errors() {
		t.Errorf("rst-headers injected %d, client errors %d (%s); every injected reset reaches the client", injected, r.Errors(), counts(r))
	}
	if o.Relay.RequestsForwarded != o.RequestsRead || o.Relay.AppErrors.Total() != 0 {
		t.Errorf("relay: %+v; origin read %d requests", o.Relay, o.RequestsRead)
	}
	md, err := os.ReadFile(filepath.Join(run.Dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "app errors (not faults)") {
		t.Errorf("report.md has no relay rows:\n%s", md)
	}
}
