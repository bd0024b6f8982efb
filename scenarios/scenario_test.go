package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

func TestParseReportsEveryProblemWithItsLine(t *testing.T) {
	t.Parallel()
	_, err := LoadFile("testdata/broken.yaml")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`testdata/broken.yaml:1:1: apiVersion: "gatecrash/v2" is not supported; this gatecrash reads "gatecrash/v1"`,
		`testdata/broken.yaml:15:3: load: unknown field "duraton"`,
		`testdata/broken.yaml:4:13: origin.replicas: 0 is not allowed; allowed: 1 to 64`,
		`testdata/broken.yaml:7:16: origin.faults[0] (idle-close).timeout: "soon" is not a duration`,
		`proxy.kind: unknown proxy kind "squid"; allowed: embedded, nginx, haproxy, caddy, apache, varnish, trafficserver, nghttpx, node, external`,
		`testdata/broken.yaml:14:16: load.connections: 0 is not allowed`,
		`load.gap-center: pattern gap-sweep needs the gap to sweep around`,
		`variants[1]: name "a" is used twice`,
		`testdata/broken.yaml:20:13: variant a: load.path "nope" must start with /`,
		`variants[2]: name is missing`,
		`testdata/broken.yaml:23:3: expect: no variant named "b"; allowed: all, a`,
		`expect.a.599: "599" is neither an outcome class`,
		`expect.a.p99: "< fast": a latency threshold needs a duration`,
		`expect.a.errors: "lots": want a count`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("full error:\n%s", msg)
	}
	// A problem in a base section is reported once, not once per variant.
	if n := strings.Count(msg, `unknown field "duraton"`); n != 1 {
		t.Fatalf("the base-section problem is reported %d times", n)
	}
}

func TestVariantsMergeOverTheBase(t *testing.T) {
	t.Parallel()
	sc, err := Parse([]byte(`
apiVersion: gatecrash/v1
name: merge
origin:
  replicas: 2
  response: {body-size: 100}
  faults: [{kind: idle-close, timeout: 1s}]
proxy:
  kind: nginx
  vars: {idle_timeout: 60s, connect_timeout: 1s}
load:
  method: POST
  body-size: 10
  duration: 3s
variants:
  - name: base
  - name: over
    origin:
      faults: [{kind: no-response}]
    proxy:
      vars: {idle_timeout: 4s}
    load:
      method: GET
      path: /x
`), "inline")
	if err != nil {
		t.Fatal(err)
	}
	base, over := sc.Variants[0], sc.Variants[1]
	if base.Origin.Replicas != 2 || faultserver.KindOf(base.Origin.Config.Faults[0]) != "idle-close" || base.Proxy.Vars["idle_timeout"] != "60s" ||
		base.Load.Method != "POST" || base.Path != "/" {
		t.Fatalf("base variant: %+v %+v %+v", base.Origin, base.Proxy, base.Load)
	}
	// Mappings merge key by key; lists (faults) are replaced whole.
	if over.Origin.Replicas != 2 || over.Origin.Config.Response.BodySize != 100 || len(over.Origin.Config.Faults) != 1 ||
		faultserver.KindOf(over.Origin.Config.Faults[0]) != "no-response" {
		t.Fatalf("over origin: %+v %v", over.Origin, over.Origin.Config.Faults)
	}
	if over.Proxy.Kind != "nginx" || over.Proxy.Vars["idle_timeout"] != "4s" || over.Proxy.Vars["connect_timeout"] != "1s" {
		t.Fatalf("over proxy: %+v", over.Proxy)
	}
	if over.Load.Method != "GET" || over.Load.BodySize != 10 || over.Load.Duration.D() != 3*time.Second || over.Path != "/x" {
		t.Fatalf("over load: %+v path %s", over.Load, over.Path)
	}
}

func TestThresholds(t *testing.T) {
	t.Parallel()
	r := &results.Result{Requests: 1000, Outcomes: map[results.Class]*results.Outcome{}}
	add := func(c results.Class, n int64, lat time.Duration) {
		o := &results.Outcome{Count: n, Latency: results.NewHistogram()}
		for range n {
			o.Latency.RecordDuration(lat)
		}
		r.Outcomes[c] = o
	}
	add(results.OK, 997, 10*time.Millisecond)
	add(results.Status502, 3, time.Millisecond)
	for _, tc := range []struct {
		key, expr string
		met       bool
	}{
		{"502", "0", false},
		{"502", "3", true},
		{"502", "> 0", true},
		{"502", "<= 2", false},
		{"502", "< 1e-2", true},
		{"502", "< 1e-3", false},
		{"errors", ">= 3", true},
		{"reset", "0", true},
		{"p99", "< 50ms", true},
		{"p50", "< 5ms", false},
		{"max", "<= 11ms", true}, // HdrHistogram keeps 3 significant digits: 10ms reads 10.01ms
	} {
		th, err := parseThreshold(tc.key, tc.expr)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.key, tc.expr, err)
		}
		if v := check("v", th, r); v.Met != tc.met {
			t.Errorf("%s %q against 3 x 502 in 1000: met=%v, want %v (%s)", tc.key, tc.expr, v.Met, tc.met, v)
		}
	}
	empty := &results.Result{Outcomes: map[results.Class]*results.Outcome{}}
	th, _ := parseThreshold("502", "< 0.5")
	if check("v", th, empty).Met {
		t.Fatal("a rate threshold on zero requests must not be met")
	}
}

func TestBuiltinsParse(t *testing.T) {
	t.Parallel()
	names := BuiltinNames()
	for _, want := range []string{"keepalive-race", "forced-race", "fin-mid-request", "rst-headers", "cut-body",
		"no-response", "tls-stall", "slow-upstream"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("built-in scenario %s is missing", want)
		}
	}
	for _, name := range names {
		sc, err := Builtin(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sc.Name != name || len(sc.Variants) == 0 || len(sc.Expect) == 0 || !strings.HasPrefix(sc.Description, "F") {
			t.Errorf("%s: name %q, %d variants, %d expectations, description %.20q", name, sc.Name, len(sc.Variants),
				len(sc.Expect), sc.Description)
		}
		for _, v := range sc.Variants {
			if v.Load.Duration.D() > 20*time.Second {
				t.Errorf("%s/%s runs %v: built-ins must run in well under a minute", name, v.Name, v.Load.Duration)
			}
		}
		// What `scenarios show` prints parses back to the same scenario.
		again, err := Parse(sc.Source, name)
		if err != nil || len(again.Variants) != len(sc.Variants) {
			t.Fatalf("%s: shown source does not parse back: %v", name, err)
		}
	}
	if _, err := Builtin("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "keepalive-race") {
		t.Fatalf("unknown built-in: %v", err)
	}
}

func TestComparisonShowsEveryClassAndItsFirstTime(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	mk := func(variant string, n502, nReset int64) *results.Result {
		r := &results.Result{Variant: variant, Start: start, Outcomes: map[results.Class]*results.Outcome{}}
		add := func(c results.Class, n int64, first time.Duration) {
			if n == 0 {
				return
			}
			o := &results.Outcome{Count: n, Latency: results.NewHistogram(), First: start.Add(first)}
			for range n {
				o.Latency.RecordDuration(time.Millisecond)
			}
			r.Outcomes[c] = o
			r.Requests += n
		}
		add(results.OK, 1000, 0)
		add(results.Status502, n502, 1500*time.Millisecond)
		add(results.Reset, nReset, 3*time.Second)
		return r
	}
	run := &Run{Scenario: &Scenario{Name: "t"}, Proxy: "embedded",
		Results: []*results.Result{mk("default", 40, 2), mk("fixed", 0, 0)}}
	var b strings.Builder
	WriteComparison(&b, run, false)
	out := b.String()
	for _, want := range []string{
		"+1.50s (502), +3.00s (reset)",
		"40  3.8e-02 (2.8e-02..5.2e-02)",
		"0  (< 3.0e-03)",
		"502: default 3.8e-02 (2.8e-02..5.2e-02) vs fixed 0 (< 3.0e-03): fixed significantly lower (p = ",
		"reset: default 1.9e-03 (2.3e-04..6.9e-03) vs fixed 0 (< 3.0e-03): not significantly different (p = 5.0e-01)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q:\n%s", want, out)
		}
	}
}

// A built-in description is a one-line summary (what `scenarios list` shows), a blank line,
// then a body that does not start by saying the summary again (what `scenarios show` prints).
func TestBuiltinDescriptionsSummaryThenBody(t *testing.T) {
	t.Parallel()
	for _, name := range BuiltinNames() {
		sc, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(sc.Description, "\n")
		if len(lines) < 3 || lines[1] != "" {
			t.Errorf("%s: description is not a summary line, a blank line and a body: %q", name, sc.Description)
			continue
		}
		summary, body := lines[0], lines[2]
		lead := func(s string) string { // the words before the first punctuation
			s, _, _ = strings.Cut(strings.ToLower(s), ":")
			s, _, _ = strings.Cut(s, ",")
			s, _, _ = strings.Cut(s, ".")
			return s
		}
		if strings.HasPrefix(strings.ToLower(body), lead(summary)) {
			t.Errorf("%s: the body starts by repeating the summary:\n  %s\n  %s", name, summary, body)
		}
	}
}

// origin.kind picks the origin; each kind takes its own keys, and a wrong one is named with
// its line.
func TestOriginKinds(t *testing.T) {
	base := "apiVersion: gatecrash/v1\nname: o\norigin:\n"
	ok := []string{
		"  kind: uvicorn\n  vars: {idle_timeout: 2s}\n  link: {latency: 1ms, jitter: 100us}\n",
		"  kind: node\n  vars: {idle_timeout: 1500ms}\n",
		"  kind: external\n  address: 127.0.0.1:8000\n",
		"  faults: [{kind: idle-close, timeout: 50ms}]\n  link: {latency: 2ms}\n",
		"  kind: relay\n  upstream: http://127.0.0.1:8000\n  faults: [{kind: cut-body, probability: 0.001}]\n",
		"  kind: relay\n  app: gunicorn\n  vars: {worker_class: gthread}\n  tls: true\n",
		"  http2: true\n  faults: [{kind: goaway-idle, timeout: 50ms}]\nproxy:\n  vars: {upstream_proto: h2c}\n",
		"  kind: external\n  address: 127.0.0.1:8000\nproxy:\n  vars: {upstream_proto: h2c}\n",
	}
	for _, o := range ok {
		sc, err := Parse([]byte(base+o), "o.yaml")
		if err != nil {
			t.Errorf("%q: %v", o, err)
			continue
		}
		if sc.Variants[0].Origin.Kind == "" {
			t.Errorf("%q: no kind resolved", o)
		}
	}
	bad := map[string]string{
		"  kind: uvicorn\n  faults: [{kind: idle-close, timeout: 1s}]\n": "o.yaml:5:11: origin.faults: only origin.kind fault-server takes it",
		"  kind: uvicorn\n  vars: {idle_timeout: 1500ms}\n":              "origin.vars.idle_timeout: 1500ms is not allowed: uvicorn takes whole seconds",
		"  kind: gunicorn\n  vars: {max_conns: 3}\n":                     "origin.vars.max_conns: not read by gunicorn",
		"  kind: tomcat\n":                                                    "o.yaml:4:9: origin.kind: \"tomcat\" is not allowed; allowed: fault-server, relay, uvicorn, gunicorn, node, nginx, external",
		"  kind: relay\n":                                                     "o.yaml:4:9: origin.kind relay needs one of origin.upstream (your app's URL, http://host:port) and origin.app",
		"  kind: relay\n  upstream: app:8000\n":                               `o.yaml:5:13: origin.upstream "app:8000": want http://host:port`,
		"  kind: relay\n  app: tomcat\n":                                      `o.yaml:5:8: origin.app: "tomcat" is not allowed; allowed: uvicorn, gunicorn, node, nginx`,
		"  kind: relay\n  app: uvicorn\n  upstream: http://a:1\n":             "needs one of origin.upstream",
		"  kind: relay\n  app: uvicorn\n  vars: {idle_timeout: 1500ms}\n":     "origin.vars.idle_timeout: 1500ms is not allowed",
		"  kind: relay\n  upstream: http://a:1\n  vars: {idle_timeout: 1s}\n": "vars and binary are for the app gatecrash starts",
		"  kind: relay\n  upstream: http://a:1\n  replicas: 2\n":              "a relay runs one listener",
		"  upstream: http://a:1\n":                                            "upstream and app are for origin.kind relay",
		"  kind: external\n":                                                  "origin.address: \"\" is not host:port",
		"  vars: {idle_timeout: 1s}\n":                                        "vars, binary and address are for origin.kind uvicorn",
		"  kind: node\n  link: {latency: 1ms, jitter: 5ms}\n":                 "origin.link.jitter: 5ms is not allowed",
		"  kind: node\n  replicas: 2\n":                                       "tls, listen and replicas are for the fault server",
		// a wrong scalar is named by the key the user wrote, once
		"  replicas: 2.5\n":         "o.yaml:4:13: origin.replicas: 2.5 is not a whole number",
		"  tls: maybe\n":            `o.yaml:4:8: origin.tls: "maybe" is not allowed; allowed: true, false`,
		"  link: {latency: -1ms}\n": `origin.link.latency: "-1ms" is negative`,
		// HTTP/2 asked of an origin that answers in HTTP/1.1: every request a 502 no fault injected
		"  faults: []\nproxy:\n  vars: {upstream_proto: h2c}\n":                          "o.yaml:6:9: proxy.vars.upstream_proto: h2c, but the origin speaks HTTP/1.1 only: set origin.http2: true",
		"  kind: uvicorn\nproxy:\n  vars: {upstream_proto: h2c}\n":                       "proxy.vars.upstream_proto: h2c, but origin.kind uvicorn speaks HTTP/1.1 only",
		"  kind: relay\n  upstream: http://a:1\n  http2: true\n":                         "o.yaml:6:10: origin.http2: the relay relays HTTP/1.1 only",
		"  kind: relay\n  upstream: http://a:1\nproxy:\n  vars: {upstream_proto: h2c}\n": "the relay (origin.kind relay) relays HTTP/1.1 only",
		"  faults: [{kind: goaway-idle, timeout: 50ms}]\n":                               "o.yaml:4:12: origin.faults[0]: goaway-idle acts on HTTP/2 connections only, and http2 is off: set http2: true",
	}
	for o, want := range bad {
		_, err := Parse([]byte(base+o), "o.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant it to say %q", o, err, want)
		}
	}
}

// A variant that means nothing for a proxy says why, instead of running as a lie.
func TestAppliesSaysWhy(t *testing.T) {
	t.Parallel()
	variant := func(sc *Scenario, name string) *Variant {
		for _, v := range sc.Variants {
			if v.Name == name {
				return v
			}
		}
		t.Fatalf("%s has no variant %s", sc.Name, name)
		return nil
	}
	for _, tc := range []struct {
		scenario, variant string
		kind              proxy.Kind
		want              string // "" applies
	}{
		{"keepalive-race", "fixed", proxy.Nginx, ""},
		{"keepalive-race", "default", proxy.Varnish, ""},
		{"keepalive-race", "fixed", proxy.Varnish, "proxy.vars.idle_timeout: 30ms: varnish's `backend_idle_timeout` as a varnishd -p parameter is at least 1s"},
		{"keepalive-race", "fixed", proxy.TrafficServer, "trafficserver takes whole seconds (`proxy.config.http.keep_alive_no_activity_timeout_out` in records.config)"},
		{"keepalive-race", "fixed", proxy.Apache, "apache takes whole seconds (`ttl=` on the ProxyPass / BalancerMember)"},
		{"chain", "default", proxy.HAProxy, "scenario chain does not apply to proxy haproxy"},
		{"slow-upstream", "tight-timeout", proxy.TrafficServer, "proxy.vars.read_timeout: 200ms: trafficserver takes whole seconds"},
		{"forced-race", "keepalive-off", proxy.Nghttpx, "variant keepalive-off sets proxy.vars.keepalive, which nghttpx's template does not read"},
		{"forced-race", "keepalive-off", proxy.NodeGateway, ""},
		{"tls-stall", "default", proxy.Varnish, "the origin speaks TLS and varnish cannot connect to it"},
	} {
		sc, err := Builtin(tc.scenario)
		if err != nil {
			t.Fatal(err)
		}
		err = sc.Applies(tc.kind, variant(sc, tc.variant))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s/%s on %s: %v", tc.scenario, tc.variant, tc.kind, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s/%s on %s: err = %v, want %q", tc.scenario, tc.variant, tc.kind, err, tc.want)
		}
	}
	// Traffic Server's config maps to one origin: replicas would all go to the first.
	sc, err := Parse([]byte("apiVersion: gatecrash/v1\nname: r\norigin: {replicas: 3}\n"), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Applies(proxy.TrafficServer, sc.Variants[0]); err == nil || !strings.Contains(err.Error(),
		"variant default has 3 origin replicas and trafficserver cannot spread requests over them") {
		t.Errorf("replicas on trafficserver: err = %v", err)
	}
	if err := sc.Applies(proxy.Nginx, sc.Variants[0]); err != nil {
		t.Errorf("replicas on nginx: %v", err)
	}
}
