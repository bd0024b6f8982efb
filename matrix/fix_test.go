package matrix

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

func writeConfig(t *testing.T, dir, name, text string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A fix's change is what the proxy's users would write: the changed and added lines, a block
// whole with its closing brace; not the ports and folders every run has its own of, not the
// comments, not the logs.
func TestConfigChange(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	base := writeConfig(t, filepath.Join(root, "default"), "proxy.vcl", `# settings: retry_unsafe off
pid /tmp/gatecrash-nginx-111/nginx.pid;
backend origin0 {
    .port = "40001";
}
sub vcl_recv {
    return (pass);
}
listen 127.0.0.1:20001;
proxy_pass http://127.0.0.1:20004/ ttl=60;
`)
	fix := writeConfig(t, filepath.Join(root, "retry"), "proxy.vcl", `# settings: retry_unsafe on
pid /tmp/gatecrash-nginx-222/nginx.pid;
backend origin0 {
    .port = "40002";
}
sub vcl_recv {
    std.cache_req_body(1MB);
    return (pass);
}
listen 127.0.0.1:20002;
proxy_pass http://127.0.0.1:20003/ ttl=1;

sub vcl_backend_error {
    if (bereq.retries < 1) {
        return (retry);
    }
}
`)
	writeConfig(t, fix, "error.log", "retry-on everything\n")
	got := configChange(base, fix)
	want := []string{"std.cache_req_body(1MB);", "proxy_pass http://127.0.0.1:PORT/ ttl=1;", "sub vcl_backend_error {", "if (bereq.retries < 1) {", "return (retry);", "}", "}"}
	if !slices.Equal(got, want) {
		t.Fatalf("change:\n%q\nwant\n%q", got, want)
	}
	if got := configChange(base, base); len(got) != 0 {
		t.Fatalf("a config against itself changes %q", got)
	}
}

// "How to fix it on your proxy": a scenario's remedy, a row per measured fix with its change,
// before and after and cost, the fixes a proxy cannot express with why, and a scenario
// without a fix variant says so.
func TestFixSection(t *testing.T) {
	t.Parallel()
	m := &Matrix{Proxies: []proxy.Kind{proxy.Nginx, proxy.Apache},
		Rows: []Row{{Scenario: "keepalive-race", Variant: "default", Method: "POST"},
			{Scenario: "keepalive-race", Variant: "fixed", Method: "POST", Fix: true},
			{Scenario: "fin-mid-request", Variant: "default", Method: "POST"}}}
	ms := results.Seconds(time.Millisecond)
	m.Cells = []*Cell{
		{Scenario: "keepalive-race", Variant: "default", Proxy: proxy.Nginx, Requests: 156, Outcome: "502",
			Classes: []Class{{Class: "502", Count: 32, Interval: "20.5% (14.9%..27.5%)"}}, OKp50: ms, OKp99: 3 * ms, ConnsPerRequest: 0.13},
		{Scenario: "keepalive-race", Variant: "fixed", Proxy: proxy.Nginx, Requests: 156, Outcome: "ok",
			OKp50: 2 * ms, OKp99: 4 * ms, ConnsPerRequest: 1, Change: []string{"keepalive_timeout 30ms;"}},
		{Scenario: "keepalive-race", Variant: "default", Proxy: proxy.Apache, Requests: 150, Outcome: "no-response",
			Classes: []Class{{Class: "no-response", Count: 4, Interval: "2.7% (0.7%..6.7%)"}}},
		{Scenario: "keepalive-race", Variant: "fixed", Proxy: proxy.Apache, NA: "apache takes whole seconds"},
		{Scenario: "fin-mid-request", Variant: "default", Proxy: proxy.Nginx, Requests: 100, Outcome: "502",
			Classes: []Class{{Class: "502", Count: 20, Interval: "20%"}}},
	}
	var b strings.Builder
	m.fixSection(&b)
	md := b.String()
	for _, want := range []string{
		"### keepalive-race\n\nEvery hop's upstream idle window must be shorter",
		"| nginx | fixed | `keepalive_timeout 30ms;` | default: 502 32 20.5% (14.9%..27.5%) | 0 in 156 (< 1.9e-02) | yes (0 in 156: < 1.9e-02) | 2.00ms / 4.00ms (1.00ms / 3.00ms) | 1.00 (0.13) |",
		"- apache cannot express fixed: apache takes whole seconds.",
		"### fin-mid-request\n\nNo proxy setting: the origin closed while the request body",
		"No fix variant: no proxy setting removes it (above).",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("fix section lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| apache | fixed |") {
		t.Errorf("a fix apache cannot express has a row:\n%s", md)
	}
}
