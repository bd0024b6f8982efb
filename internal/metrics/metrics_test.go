package metrics

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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
	tp := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := tp.TextToMetricFamilies(resp.Body)
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
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
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
	reg := &Registry{Version: "v9.9.9", Labels: map[string]string{"run_id": "r1", "shard": "2"}}
	reg.Set(Source{Scenario: "soak", Variant: `with "quotes"`, Run: results.RunInfo{ID: "r1", Shard: 2, Shards: 3},
		Snapshot: live.Snapshot, Gauges: live.Gauges})
	at, stop, err := Serve("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	url := "http://" + at + "/metrics"
	labels := map[string]string{"scenario": "soak", "variant": `with "quotes"`, "run_id": "r1", "shard": "2"}
	withClass := func(c results.Class, kv ...string) map[string]string {
		m := map[string]string{"scenario": "soak", "variant": `with "quotes"`, "run_id": "r1", "shard": "2", "class": c.String()}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	// Before the first request every series is there, at zero: a rate() over the first
	// error needs the zero before it.
	before := scrape(t, url)
	for _, c := range results.Classes() {
		if value(t, before, "gatecrash_requests_total", withClass(c)) != 0 || value(t, before, "gatecrash_request_duration_seconds", withClass(c)) != 0 {
			t.Fatalf("class %s not at zero before the load", c)
		}
		if c.IsError() && value(t, before, "gatecrash_reused_connection_errors_total", withClass(c, "reuse", "race")) != 0 {
			t.Fatalf("reused errors of %s not at zero before the load", c)
		}
	}
	if value(t, before, "gatecrash_build_info", map[string]string{"version": "v9.9.9", "run_id": "r1", "shard": "2"}) != 1 {
		t.Fatal("no gatecrash_build_info")
	}
	for _, name := range []string{"process_resident_memory_bytes", "process_open_fds", "go_goroutines"} {
		if value(t, before, name, map[string]string{"run_id": "r1", "shard": "2"}) <= 0 {
			t.Fatalf("%s missing or unlabelled", name)
		}
	}
	if f := before["gatecrash_origin_faults_injected_total"]; f != nil {
		t.Fatal("a load exports origin counters: they belong to the fault server's own /metrics (a second copy doubles them in sum())")
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
		if n := value(t, final, "gatecrash_request_duration_seconds", withClass(c)); n != float64(res.Count(c)) {
			t.Errorf("duration histogram count for %s = %v, want %d", c, n, res.Count(c))
		}
	}
	if got := value(t, final, "gatecrash_connections_opened_total", labels); got != float64(res.Connections.Opened) {
		t.Errorf("connections opened %v, result %d", got, res.Connections.Opened)
	}
	if got := value(t, final, "gatecrash_requests_on_reused_connections_total", labels); got != float64(res.Connections.ReusedRequests) {
		t.Errorf("reused %v, result %d", got, res.Connections.ReusedRequests)
	}
	// The classic buckets are cumulative and hold every request up to 60 s.
	for _, m := range final["gatecrash_request_duration_seconds"].Metric {
		h := m.Histogram
		var prev uint64
		for _, b := range h.Bucket {
			if b.GetCumulativeCount() < prev {
				t.Fatalf("buckets not cumulative: %v", h.Bucket)
			}
			prev = b.GetCumulativeCount()
		}
		if prev != h.GetSampleCount() {
			t.Fatalf("the 60 s bucket holds %d of %d requests (all were far under a second)", prev, h.GetSampleCount())
		}
	}
	// A scraper that asks for protobuf gets the native buckets too; they hold every request.
	nat := scrapeProto(t, url)
	for _, m := range nat["gatecrash_request_duration_seconds"].Metric {
		h := m.Histogram
		if h.GetSchema() != 3 || len(h.PositiveSpan) == 0 {
			t.Fatalf("no native histogram: schema %d, spans %v", h.GetSchema(), h.PositiveSpan)
		}
		var n, c int64
		for _, d := range h.PositiveDelta {
			c += d
			n += c
		}
		if uint64(n)+h.GetZeroCount() != h.GetSampleCount() {
			t.Fatalf("native buckets hold %d, the histogram %d", n, h.GetSampleCount())
		}
	}
}

// scrapeProto fetches url asking for the protobuf exposition, as Prometheus does with native
// histograms enabled.
func scrapeProto(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	out := map[string]*dto.MetricFamily{}
	for {
		var f dto.MetricFamily
		if err := dec.Decode(&f); err != nil {
			if err == io.EOF {
				return out
			}
			t.Fatal(err)
		}
		out[f.GetName()] = &f
	}
}

// TestMetricsOriginAndProxyLog: a run's snapshot with origin truth and proxy log counts is
// served as labelled counters.
func TestMetricsOriginAndProxyLog(t *testing.T) {
	h := results.NewHistogram()
	h.RecordDuration(time.Millisecond)
	r := &results.Result{Start: time.Now(), Requests: 1, Partial: true,
		Outcomes: map[results.Class]*results.Outcome{results.Status502: {Count: 1, Latency: h}},
		Origin:   &results.OriginTruth{OriginCounts: results.OriginCounts{RequestsStarted: 3, Faults: map[string]uint64{"rst-headers": 2}, Closes: results.OriginCloses{ServerRST: 2}}},
		ProxyLog: map[string]int64{"upstream-prematurely-closed": 1}}
	r.End = r.Start.Add(time.Second)
	reg := &Registry{}
	reg.Set(Source{Scenario: "s", Variant: "a", Snapshot: func() *results.Result { return r }, Origin: true})
	reg.Set(Source{Scenario: "s", Variant: "b", Snapshot: func() *results.Result { return nil }, Origin: true})
	var b strings.Builder
	reg.Write(&b)
	tp := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := tp.TextToMetricFamilies(strings.NewReader(b.String()))
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

// TestOriginFamiliesAgree: a family the fault server's own /metrics and a run's metrics both
// export (gatecrash_origin_*, gatecrash_relay_*, gatecrash_build_info) has the same label
// names in both, apart from who the series belong to (origin_instance there; scenario,
// variant, run_id and shard here) — so one dashboard query reads either.
func TestOriginFamiliesAgree(t *testing.T) {
	t.Parallel()
	srv, addr := faultservertest.Origin(t, "rst-headers:every=2")
	for range 4 { // faults injected, closes counted
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	admin := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(admin.Close)
	own := scrape(t, admin.URL+"/metrics")

	truth := &results.OriginTruth{OriginCounts: srv.Stats().OriginCounts}
	h := results.NewHistogram()
	h.RecordDuration(time.Millisecond)
	r := &results.Result{Start: time.Now(), Requests: 1, Outcomes: map[results.Class]*results.Outcome{results.OK: {Count: 1, Latency: h}},
		Origin: truth}
	r.End = r.Start.Add(time.Second)
	reg := &Registry{}
	reg.Set(Source{Scenario: "s", Variant: "v", Snapshot: func() *results.Result { return r }, Origin: true})
	var b strings.Builder
	if err := reg.Write(&b); err != nil {
		t.Fatal(err)
	}
	tp := expfmt.NewTextParser(model.LegacyValidation)
	runs, err := tp.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	labels := func(f *dto.MetricFamily, identity ...string) map[string]bool {
		out := map[string]bool{}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if !slices.Contains(identity, l.GetName()) {
					out[l.GetName()] = true
				}
			}
		}
		return out
	}
	shared := 0
	for name, f := range own {
		g := runs[name]
		if g == nil || !strings.HasPrefix(name, "gatecrash_") {
			continue
		}
		shared++
		a, b := labels(f, "origin_instance"), labels(g, "scenario", "variant", "run_id", "shard")
		if !maps.Equal(a, b) {
			t.Errorf("%s: labels %v at the fault server, %v in a run's metrics", name, slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b)))
		}
		if f.GetType() != g.GetType() {
			t.Errorf("%s: a %s at the fault server, a %s in a run's metrics", name, f.GetType(), g.GetType())
		}
	}
	if shared < 8 { // accepted, started, read, completed, closes, faults, tls..., build_info
		t.Fatalf("only %d families in common: %v", shared, slices.Sorted(maps.Keys(own)))
	}
}
