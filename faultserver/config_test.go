package faultserver

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseConfigAllKinds(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig("testdata/faults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, f := range cfg.Faults {
		kinds = append(kinds, KindOf(f))
	}
	all := slices.DeleteFunc(Kinds(), func(k string) bool { return k == exampleKind })
	if got, want := strings.Join(kinds, " "), strings.Join(all, " "); len(kinds) != len(all) {
		t.Fatalf("testdata/faults.yaml has kinds %s; it must show every kind: %s", got, want)
	}
	cb := cfg.Faults[5].(*CutBody)
	if cb.BodySize != 4096 || cb.AfterBytes != 1000 || !cb.Chunked || cb.Close != CloseRST || cb.Match != "X-Cut: yes" {
		t.Fatalf("cut-body decoded as %+v", cb)
	}
	if ic := cfg.Faults[1].(*IdleClose); ic.Timeout.D().String() != "5s" || ic.Jitter.D().String() != "50ms" {
		t.Fatalf("idle-close decoded as %+v", ic)
	}
	if ga := cfg.Faults[9].(*GoAwayIdle); ga.Timeout.D() != 4*time.Second || ga.CloseAfter.D() != 50*time.Millisecond {
		t.Fatalf("goaway-idle decoded as %+v", ga)
	}
	if rs := cfg.Faults[10].(*RSTStream); rs.Code != "refused-stream" || rs.After != "headers" {
		t.Fatalf("rst-stream decoded as %+v", rs)
	}
	if cfg.Seed != 42 || !cfg.HTTP2 || cfg.Response.BodySize != 512 || cfg.Limits.MaxHeaderBytes != 8192 {
		t.Fatalf("config decoded as %+v", cfg)
	}

	// Round trip: what GET /faults shows can be PUT back and means the same.
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseConfig(out, "round-trip")
	if err != nil {
		t.Fatalf("re-parsing marshalled config: %v\n%s", err, out)
	}
	out2, _ := yaml.Marshal(again)
	if string(out) != string(out2) {
		t.Fatalf("round trip changed the config:\n%s\n---\n%s", out, out2)
	}
}

func TestParseConfigReportsEveryProblemWithItsLine(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig("testdata/bad.yaml")
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`testdata/bad.yaml:2:1: unknown field "respons"; allowed: fault-header, faults, header-limits, http2, limits, response, seed`,
		`testdata/bad.yaml:6:14: faults[0] (idle-close).timeout: "5" is not a duration`,
		`testdata/bad.yaml:8:5: faults[1] (rst-headers): unknown field "after_bytes"; allowed: after-bytes, every, match, nth, probability`,
		`testdata/bad.yaml:9:5: faults[2]: unknown fault kind "teleport"`,
		`testdata/bad.yaml:10:5: faults[3]: cut-body: after-bytes: 5000 is not allowed; allowed: 0 to body-size-1 (1023)`,
		`testdata/bad.yaml:10:5: faults[3]: cut-body: close: "maybe" is not allowed; allowed: fin, rst`,
		`testdata/bad.yaml:13:5: faults[4]: kind is missing`,
		`testdata/bad.yaml:14:5: faults[5]: idle-close: match is not supported`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
}

func TestParseConfigEdgeCases(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "", "the document is empty"},
		{"not yaml", "faults: [", "did not find expected"},
		{"fault not a mapping", "faults: [idle-close]", "a fault is a mapping with a kind"},
		{"wrong type", "seed: lots", `1:7: seed: "lots" is not a whole number`},
		{"wrong type in a section", "limits: {idle-timeout: -5s}", `limits.idle-timeout: "-5s" is negative; allowed: 0 or more`},
		{"status out of range", "response: {status: 700}", "response.status: 700 is not allowed"},
		{"nth on tls-stall", "faults: [{kind: tls-stall, nth: 2}]", "nth is not supported"},
		{"delay without parameters", "faults: [{kind: delay}]", "set head-delay"},
		{"bad match", "faults: [{kind: status, match: 'no good'}]", "neither a path prefix"},
		{"h2 kind without http2", "faults: [{kind: rst-stream}]", "1:10: faults[0]: rst-stream acts on HTTP/2 connections only, and http2 is off: set http2: true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig([]byte(tc.doc), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "c.yaml") {
				t.Fatalf("err = %v, want it to name c.yaml and say %q", err, tc.want)
			}
		})
	}
}

func TestParseFaultSpec(t *testing.T) {
	t.Parallel()
	f, err := ParseFaultSpec("rst-headers:probability=0.25, after-bytes=20")
	if err != nil {
		t.Fatal(err)
	}
	r := f.(*RSTHeaders)
	if r.AfterBytes != 20 || r.Probability == nil || *r.Probability != 0.25 {
		t.Fatalf("parsed %+v", r)
	}
	if f, err := ParseFaultSpec("no-response"); err != nil || f.(*NoResponse).Close != CloseFIN {
		t.Fatalf("defaults: %+v, %v", f, err)
	}
	for spec, want := range map[string]string{
		"idle-close:timeout=soon":      `"soon" is not a duration`,
		"idle-close:timeout":           "is not key=value",
		"rst-headers:after-bytes=many": `rst-headers.after-bytes: "many" is not a whole number`,
		"cut-body:close=fin,chunked=1": `cut-body.chunked: "1" is not allowed; allowed: true, false`,
		"nope:x=1":                     "unknown fault kind",
		// every problem, on one line
		"cut-body:body-size=10,after-bytes=20,close=maybe": `(9); cut-body: close: "maybe" is not allowed`,
	} {
		if _, err := ParseFaultSpec(spec); err == nil || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), spec) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseFaultSpec(%q) = %v, want it to quote the spec and say %q", spec, err, want)
		}
	}
}
