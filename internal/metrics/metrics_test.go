package metrics

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/results"
)

// scrape fetches url and parses it with Prometheus's own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("content type %q", ct)
	}
	fams, err := (&expfmt.TextParser{}).TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the Prometheus text parser rejects the exposition: %v", err)
	}
	return fams
}

// value returns the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric family %s", name)
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount())
		}
	}
	t.Fatalf("%s has no sample with labels %v", name, want)
	return 0
}

// TestMetricsMidRunAndFinal scrapes a real load mid-run and after it: both parse with the
// Prometheus text parser, mid-run counts are no more than the final ones, and the scrape
// after the end equals the result the run returned, class by class.
func TestMetricsMidRunAndFinal(t *testing.T) {
	_, addr := faultservertest.Origin(t, "rst-headers:probability=0.05")
	live := &loadgen.Live{}
	reg := &Registry{}
	reg.Set(Source{Scenario: "soak", Variant: `with "quotes"`, Snapshot: live.Snapshot, Gauges: live.Gauges})
	at, stop, err := Serve("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	url := "http://" + at + "/metrics"
	labels := map[string]string{"scenario": "soak", "variant": `with "quotes"`}
	withClass := func(c results.Class) map[string]string {
		return map[string]string{"scenario": "soak", "variant": `with "quotes"`, "class": c.String()}
	}

	done := make(chan *results.Result, 1)
	go func() {
		res, err := loadgen.Run(context.Background(), loadgen.Config{URL: "http://" + addr + "/", Connections: 4,
			Duration: yamlconf.Duration(1500 * time.Millisecond)}, loadgen.WithLive(live))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	time.Sleep(700 * time.Millisecond)
	mid := scrape(t, url)
	if value(t, mid, "gatecrash_running", labels) != 1 {
		t.Fatal("mid-run scrape does not say the load runs")
	}
	midOK := value(t, mid, "gatecrash_requests_total", withClass(results.OK))
	if midOK == 0 {
		t.Fatal("no ok requests mid-run")
	}
	if inflight := value(t, mid, "gatecrash_requests_in_flight", labels); inflight < 0 || inflight > 4 {
		t.Fatalf("in flight %v with 4 connections", inflight)
	}
	res := <-done
	if res == nil {
		t.FailNow()
	}
	final := scrape(t, url)
	if value(t, final, "gatecrash_running", labels) != 0 {
		t.Fatal("the scrape after the end says the load still runs")
	}
	if res.Count(results.Truncated)+res.Count(results.Reset)+res.Count(results.NoResponse) == 0 {
		t.Fatal("the fault produced no errors; the test checks nothing about error classes")
	}
	for _, c := range results.Classes() {
		got := value(t, final, "gatecrash_requests_total", withClass(c))
		if got != float64(res.Count(c)) {
			t.Errorf("requests_total{class=%s} = %v, the result has %d", c, got, res.Count(c))
		}
		if got < value(t, mid, "gatecrash_requests_total", withClass(c)) {
			t.Errorf("requests_total{class=%s} went down", c)
		}
		if o := res.Outcomes[c]; o != nil {
			if n := value(t, final, "gatecrash_request_duration_seconds", withClass(c)); n != float64(o.Count) {
				t.Errorf("duration summary count for %s = %v, want %d", c, n, o.Count)
			}
		}
	}
	if got := value(t, final, "gatecrash_connections_opened_total", labels); got != float64(res.Connections.Opened) {
		t.Errorf("connections opened %v, result %d", got, res.Connections.Opened)
	}
	if got := value(t, final, "gatecrash_requests_on_reused_connections_total", labels); got != float64(res.Connections.ReusedRequests) {
		t.Errorf("reused %v, result %d", got, res.Connections.ReusedRequests)
	}
	q99 := final["gatecrash_request_duration_seconds"].Metric[0].Summary.Quantile
	if len(q99) != len(Quantiles) {
		t.Fatalf("%d quantiles, want %d", len(q99), len(Quantiles))
	}
}

// TestMetricsOriginAndProxyLog: a run's snapshot with origin truth and proxy log counts is
// served as labelled counters.
func TestMetricsOriginAndProxyLog(t *testing.T) {
	h := results.NewHistogram()
	h.RecordDuration(time.Millisecond)
	r := &results.Result{Start: time.Now(), Requests: 1, Partial: true,
		Outcomes: map[results.Class]*results.Outcome{results.Status502: {Count: 1, Latency: h}},
		Origin:   &results.OriginTruth{RequestsStarted: 3, Faults: map[string]uint64{"rst-headers": 2}, Closes: results.OriginCloses{ServerRST: 2}},
		ProxyLog: map[string]int64{"upstream-prematurely-closed": 1}}
	r.End = r.Start.Add(time.Second)
	reg := &Registry{}
	reg.Set(Source{Scenario: "s", Variant: "a", Snapshot: func() *results.Result { return r }})
	reg.Set(Source{Scenario: "s", Variant: "b", Snapshot: func() *results.Result { return nil }})
	var b strings.Builder
	reg.Write(&b)
	fams, err := (&expfmt.TextParser{}).TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	lab := func(kv ...string) map[string]string {
		m := map[string]string{"scenario": "s", "variant": "a"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatecrash_origin_faults_injected_total", lab("kind", "rst-headers"), 2},
		{"gatecrash_origin_requests_started_total", lab(), 3},
		{"gatecrash_origin_closes_total", lab("side", "server", "how", "rst"), 2},
		{"gatecrash_proxy_log_lines_total", lab("pattern", "upstream-prematurely-closed"), 1},
		{"gatecrash_requests_total", lab("class", "502"), 1},
	} {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
