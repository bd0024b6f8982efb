package probe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/proxy"
)

func hops(t *testing.T, specs ...string) []Hop {
	t.Helper()
	var out []Hop
	for i, s := range specs {
		h, err := ParseHop(s, i == len(specs)-1)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

// The verdict flags the racing pair and not the safe one.
func TestChainFlagsTheRacingPairOnly(t *testing.T) {
	vs, err := Chain(hops(t, "alb=60s", "nginx=keep=4s,close=75s", "uvicorn=5s"))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Fatalf("%d verdicts; want 2", len(vs))
	}
	if vs[0].Race {
		t.Errorf("alb 60 s -> nginx closing at 75 s is safe: %s", vs[0].Text)
	}
	if vs[1].Race {
		t.Errorf("nginx 4 s -> uvicorn 5 s is safe: %s", vs[1].Text)
	}
	vs, _ = Chain(hops(t, "nginx=60s", "uvicorn=5s"))
	if !vs[0].Race {
		t.Fatalf("nginx 60 s over uvicorn 5 s races: %s", vs[0].Text)
	}
	for _, want := range []string{"RACE", "`keepalive_timeout` in the upstream block", "below 5.000 s, e.g. 4s", "--timeout-keep-alive"} {
		if !strings.Contains(vs[0].Text, want) {
			t.Errorf("verdict %q does not say %q", vs[0].Text, want)
		}
	}
	var b strings.Builder
	if !WriteChain(&b, vs) {
		t.Error("WriteChain did not report the race")
	}
}

func TestChainEdgeCases(t *testing.T) {
	vs, _ := Chain(hops(t, "nginx=never", "uvicorn=never"))
	if vs[0].Race {
		t.Errorf("an origin that never closes does not race: %s", vs[0].Text)
	}
	vs, _ = Chain(hops(t, "caddy=5s", "node=5s"))
	if !vs[0].Race {
		t.Errorf("equal windows race (the proxy reuses at the very moment): %s", vs[0].Text)
	}
	for _, bad := range []string{"nginx", "=5s", "nginx=banana", "nginx=keep=5s,ttl=3s"} {
		if _, err := ParseHop(bad, false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := Chain(hops(t, "nginx=5s")); err == nil {
		t.Error("a one-hop chain accepted")
	}
}

// Probe reports written with --json are hops.
func TestChainFromProbeReports(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) string {
		b, _ := json.Marshal(v)
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	px := write("nginx.json", &ProxyReport{Role: "proxy", Pooled: 4, IdleWindow: &Spread{N: 4, Min: 59 * time.Second, Median: 60 * time.Second, Max: 60 * time.Second}})
	or := write("uvicorn.json", &OriginReport{Role: "origin", IdleTimeout: &Spread{N: 8, Min: 5 * time.Second, Median: 5 * time.Second, Max: 5 * time.Second}})
	vs, err := Chain(hops(t, "nginx=@"+px, "uvicorn=@"+or))
	if err != nil {
		t.Fatal(err)
	}
	if !vs[0].Race {
		t.Errorf("from reports: %s", vs[0].Text)
	}
	// Which of the measured figures the verdict uses is said, with the median beside it
	// (probe origin reports the median; the chain judges by the earliest close).
	for _, want := range []string{"60.000 s (the longest of 4 measured; median 60.000 s)", "closes at 5.000 s (the earliest of 8 closes measured; median 5.000 s)"} {
		if !strings.Contains(vs[0].Text, want) {
			t.Errorf("verdict lacks %q: %s", want, vs[0].Text)
		}
	}
	// Hops whose names it does not know: the fix names them, in words that read.
	vs, _ = Chain(hops(t, "lb=60s", "ingress=3s"))
	if !strings.Contains(vs[0].Text, "lower lb's idle timeout towards ingress below 3.000 s") {
		t.Errorf("unknown hops: %s", vs[0].Text)
	}
	if _, err := ParseHop("x=@"+write("bad.json", map[string]string{"role": "load"}), true); err == nil {
		t.Error("a report of another role accepted")
	}
}

// Every proxy kind gatecrash can start has its settings named, both as the hop that reuses
// pooled upstream connections and as the hop that closes idle ones: a new kind cannot leave
// `probe chain` with "its idle timeout" for a fix.
func TestChainNamesTheKnobsOfEveryProxyKind(t *testing.T) {
	t.Parallel()
	for _, k := range proxy.Kinds() {
		if k == proxy.External {
			continue
		}
		if _, ok := knob(string(k), "idle_timeout"); !ok {
			t.Errorf("%s: no reuse knob (its idle window towards its upstream)", k)
		}
		if _, ok := knob(string(k), "client_idle_timeout"); !ok {
			t.Errorf("%s: no close knob (its own idle timeout as a server)", k)
		}
	}
	fix := fixFor("trafficserver", "varnish", 5*time.Second)
	for _, want := range []string{"keep_alive_no_activity_timeout_out", "below 5.000 s", "varnish's `timeout_idle`"} {
		if !strings.Contains(fix, want) {
			t.Errorf("fix %q lacks %q", fix, want)
		}
	}
}
