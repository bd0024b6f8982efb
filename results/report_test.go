package results

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenPair is two variants of one scenario, deterministic down to the histograms.
func goldenPair(t *testing.T) []*Result {
	t.Helper()
	a := sampleResult(t)
	a.Origin = &OriginTruth{OriginCounts: OriginCounts{RequestsStarted: 990, Faults: map[string]uint64{"idle-close": 40, "status": 0}}}
	a.ProxyLog = map[string]int64{"upstream prematurely closed connection": 10, "no live upstreams": 0}
	b := sampleResult(t)
	b.Variant = "fixed"
	delete(b.Outcomes, Status502)
	b.Requests = 990
	b.Exemplars = nil
	b.Origin = &OriginTruth{OriginCounts: OriginCounts{RequestsStarted: 990, Faults: map[string]uint64{"idle-close": 0}}}
	return []*Result{a, b}
}

func TestReportGolden(t *testing.T) {
	t.Parallel()
	for _, format := range []string{FormatText, FormatMarkdown, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := WriteReport(&b, goldenPair(t), format); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "report."+format+".golden")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update ./results to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Fatalf("%s report differs from %s (go test -update ./results regenerates it):\n%s", format, golden, b.String())
			}
		})
	}
}

func TestReportContents(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteReport(&b, goldenPair(t), FormatText); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"== keepalive-race / default", "== keepalive-race / fixed", "== comparison",
		"p50     p90     p99   p99.9     max  first at", // p90 is there
		"faults injected: idle-close 40",
		"proxy log    upstream prematurely closed connection: 10",
		"502: default 1.0e-02 (5.4e-03..1.8e-02) vs fixed 0 (< 3.0e-03): fixed significantly lower (p = ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	if strings.Contains(out, "no live upstreams") {
		t.Error("a log pattern that never matched is listed")
	}
	if t.Failed() {
		t.Log(out)
	}
	var js jsonSummary
	b.Reset()
	WriteReport(&b, goldenPair(t), FormatJSON)
	if err := json.Unmarshal(b.Bytes(), &js); err != nil || len(js.Results) != 2 || !js.Differences[0].Significant ||
		js.Results[0].Outcomes[Status502].Count != 10 || js.Results[0].Outcomes[Status502].FirstAt != time.Second.Seconds() {
		t.Fatalf("json report: %v %+v", err, js)
	}
	if err := WriteReport(&b, nil, "pdf"); err == nil || !strings.Contains(err.Error(), "allowed: text, markdown, json, html") {
		t.Fatalf("bad format: %v", err)
	}
}

// Errors on reused connections show their stale/race split, and the client model its
// discards, in the summary, the comparison and the HTML report.
func TestReuseSplitInEveryReport(t *testing.T) {
	t.Parallel()
	a := sampleResult(t)
	a.Target.Client = "naive"
	a.Outcomes[NoResponse] = &Outcome{Count: 20, Stale: 20, Latency: NewHistogram(), First: a.Start, Last: a.Start}
	for range 20 {
		a.Outcomes[NoResponse].Latency.RecordDuration(time.Millisecond)
	}
	a.Requests += 20
	b := sampleResult(t)
	b.Variant = "checked"
	b.Target.Client = "checked"
	b.Connections.StaleDiscarded = 41
	var sum, cmp, page, md, js strings.Builder
	if err := WriteSummary(&sum, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteComparison(&cmp, []*Result{a, b}); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&page, []*Result{a, b}); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(&md, []*Result{a, b}, FormatMarkdown); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(&js, []*Result{a, b}, FormatJSON); err != nil {
		t.Fatal(err)
	}
	for what, want := range map[string][]string{
		sum.String():  {"no-response 20 (stale 20, race 0)", "0 stale connections discarded (client naive)"},
		cmp.String():  {"on reused conns", "stale 20, race 0", "client model", "naive", "checked", "stale discarded", "41"},
		page.String(): {"Errors on reused connections: no-response 20 (stale 20, race 0)", "Client model checked: 41 stale connections discarded"},
		md.String():   {"Errors on reused connections: no-response 20 (stale 20, race 0)", "Client model `checked`: 41 stale connections discarded"},
		js.String():   {`"stale": 20`, `"client": "naive"`, `"stale_discarded": 41`},
	} {
		for _, w := range want {
			if !strings.Contains(what, w) {
				t.Errorf("report lacks %q:\n%s", w, what)
			}
		}
	}
}
