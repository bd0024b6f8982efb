package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/docs"
	"github.com/gatecrash/gatecrash/matrix"
	"github.com/gatecrash/gatecrash/proxy"
)

// advise prints, from a matrix, a proxy's fixes per scenario: the change, before and after,
// the verdict, the cost; the fixes it cannot express with why; and refuses what it cannot
// answer with what is allowed.
func TestAdvise(t *testing.T) {
	t.Parallel()
	m := matrix.Matrix{Date: time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC), Command: "gatecrash matrix --budget 8s",
		Gatecrash: "v1.2.3", Versions: map[string]string{"haproxy": "HAProxy version 2.6.12", "apache": "Apache/2.4"},
		Proxies: []proxy.Kind{proxy.HAProxy, proxy.Apache},
		Rows: []matrix.Row{{Scenario: "keepalive-race", Variant: "default", Method: "POST"},
			{Scenario: "keepalive-race", Variant: "fixed", Method: "POST", Fix: true},
			{Scenario: "keepalive-race", Variant: "retry", Method: "POST", Fix: true},
			{Scenario: "cut-body", Variant: "content-length", Method: "GET"}},
		Cells: []*matrix.Cell{
			{Scenario: "keepalive-race", Variant: "default", Proxy: proxy.HAProxy, Requests: 155, Outcome: "no-response",
				Classes: []matrix.Class{{Class: "no-response", Count: 15, Interval: "9.7% (6.0%..15.4%)"}}},
			{Scenario: "keepalive-race", Variant: "fixed", Proxy: proxy.HAProxy, Requests: 156, Outcome: "no-response",
				Classes: []matrix.Class{{Class: "no-response", Count: 11, Interval: "7.1% (4.0%..12.2%)"}}},
			{Scenario: "keepalive-race", Variant: "retry", Proxy: proxy.HAProxy, Requests: 154, Outcome: "ok",
				Change: []string{"retry_unsafe: on (`retry-on ... empty-response`)", "retry-on conn-failure empty-response"}},
			{Scenario: "keepalive-race", Variant: "default", Proxy: proxy.Apache, Requests: 151, Outcome: "no-response",
				Classes: []matrix.Class{{Class: "no-response", Count: 4, Interval: "2.6% (0.7%..6.6%)"}}},
			{Scenario: "keepalive-race", Variant: "fixed", Proxy: proxy.Apache, NA: "apache takes whole seconds"},
			{Scenario: "keepalive-race", Variant: "retry", Proxy: proxy.Apache, NA: "no such setting"},
			{Scenario: "cut-body", Variant: "content-length", Proxy: proxy.HAProxy, Requests: 100, Outcome: "truncated"},
		}}
	b, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "conformance.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, context.Background(), "advise", "haproxy", "--matrix", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"haproxy HAProxy version 2.6.12, as measured by gatecrash matrix --budget 8s (gatecrash v1.2.3) on 2026-12-04 02:00 UTC",
		"keepalive-race\n  what to do: Every hop's upstream idle window",
		"  fix \"fixed\": removed it: no\n    before: default: no-response 15 9.7% (6.0%..15.4%)\n    after:  no-response 11 7.1% (4.0%..12.2%)",
		"  fix \"retry\": removed it: yes (0 in 154: < 1.9e-02)\n    change: retry_unsafe: on (`retry-on ... empty-response`)\n            retry-on conn-failure empty-response",
		"cut-body\n  what to do: No proxy setting: once the status line went",
		"  no fix variant: no proxy setting removes it",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("advise haproxy lacks %q:\n%s", want, out)
		}
	}
	// Your setup first, judged as probe chain judges it, with the value to set.
	_, out, _ = runCLI(t, context.Background(), "advise", "haproxy", "--matrix", file, "--scenario", "cut-body",
		"--hop", "haproxy=60s", "--hop", "uvicorn=5s")
	// HAProxy's setting behind idle_timeout is no idle timeout (measured): the advice says so
	// and names what fixed it, instead of "lower pool-purge-delay".
	if !strings.HasPrefix(out, "your setup:\n  haproxy keeps idle upstream connections 60.000 s >= uvicorn closes at 5.000 s: RACE") ||
		!strings.Contains(out, "HAProxy 2.6 has no idle timeout for server connections") || strings.Contains(out, "lower haproxy") {
		t.Errorf("advise --hop:\n%s", out)
	}
	_, out, _ = runCLI(t, context.Background(), "advise", "haproxy", "--matrix", file, "--scenario", "cut-body",
		"--hop", "nginx=60s", "--hop", "uvicorn=5s")
	if !strings.Contains(out, "lower nginx `keepalive_timeout` in the upstream block below 5.000 s, e.g. 4s") {
		t.Errorf("advise --hop nginx=60s:\n%s", out)
	}
	_, out, _ = runCLI(t, context.Background(), "advise", "apache", "--matrix", file, "--scenario", "keepalive-race")
	if !strings.Contains(out, `fix "fixed": cannot be written on apache: apache takes whole seconds`) || strings.Contains(out, "cut-body") {
		t.Errorf("advise apache --scenario keepalive-race:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"advise", "squid"}, 2, `PROXY: "squid" is not a proxy the matrix measures; allowed: `},
		{[]string{"advise", "haproxy", "--matrix", file, "--scenario", "nope"}, 2, `--scenario: "nope" is not in ` + file + "; it has: keepalive-race, cut-body"},
		{[]string{"advise", "nginx", "--matrix", file}, 1, "has no measurements of nginx (it ran [haproxy apache])"},
		{[]string{"advise", "nginx", "--matrix", filepath.Join(t.TempDir(), "none.json")}, 1, "none.json"},
		{[]string{"advise", "haproxy", "--matrix", file, "--hop", "haproxy=sixty"}, 2, "haproxy=sixty"},
	} {
		code, _, errOut := runCLI(t, context.Background(), tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

// The matrix built into the binary is a matrix, of every proxy the matrix starts that is
// installed here: advise without --matrix has an answer for each.
func TestAdviseBuiltInMatrix(t *testing.T) {
	t.Parallel()
	var m matrix.Matrix
	if err := json.Unmarshal(docs.ConformanceJSON, &m); err != nil {
		t.Fatalf("docs/conformance.json: %v", err)
	}
	for _, k := range []proxy.Kind{proxy.Embedded, proxy.Nginx, proxy.HAProxy} {
		if !slices.Contains(m.Proxies, k) {
			t.Errorf("the built-in matrix has no %s", k)
		}
	}
	code, out, errOut := runCLI(t, context.Background(), "advise", "nginx", "--scenario", "keepalive-race")
	if code != 0 || !strings.Contains(out, `fix "fixed": removed it: yes`) {
		t.Fatalf("advise nginx: exit %d %s\n%s", code, errOut, out)
	}
}
