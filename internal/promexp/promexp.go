// Package promexp is how gatecrash exports Prometheus metrics, written once for both sides:
// the load generator's figures (internal/metrics) and the fault server's ground truth
// (faultserver's admin /metrics, and gatecrash run's in-process origins) go through the
// same collectors here, on github.com/prometheus/client_golang. It gives latency histograms
// that aggregate across shards — classic buckets chosen for 50 µs..60 s, and native
// (sparse) buckets when the scraper asks for them — the process's own figures, and
// gatecrash_build_info. It knows results, not the engines. Collectors are safe for
// concurrent scrapes.
package promexp

import (
	"math"
	"net/http"
	"runtime"
	"slices"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatecrash/gatecrash/results"
)

// Buckets are the classic histogram buckets of every latency histogram, in seconds: the
// same everywhere, so that histogram_quantile over sum by (le) of several shards is right.
var Buckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
	1, 2.5, 5, 10, 30, 60}

// NativeSchema is the resolution of the native histograms: buckets 2^(1/8) apart (about 9%).
const NativeSchema = 3

// Latency returns a histogram metric of h (microseconds, as every gatecrash histogram) in
// seconds, with the classic Buckets and the native buckets both; a scraper takes what it
// reads. A nil h is an empty histogram: the series exists before the first request.
func Latency(desc *prometheus.Desc, h *results.Histogram, labelValues ...string) prometheus.Metric {
	m := &latency{desc: desc, labels: prometheus.MakeLabelPairs(desc, labelValues)}
	cum := make([]uint64, len(Buckets))
	native := map[int]int64{}
	if h != nil && h.TotalCount() > 0 {
		m.count = uint64(h.TotalCount())
		m.sum = h.Mean() * float64(h.TotalCount()) / 1e6
		for _, bar := range h.Distribution() {
			if bar.Count == 0 {
				continue
			}
			v := float64(bar.To) / 1e6 // the highest value of the bar: "at most" for the buckets
			i := sort.SearchFloat64s(Buckets, v)
			if i < len(cum) {
				cum[i] += uint64(bar.Count)
			}
			if v <= 0 {
				m.zero += uint64(bar.Count)
				continue
			}
			native[nativeIndex(v)] += bar.Count
		}
		for i := 1; i < len(cum); i++ {
			cum[i] += cum[i-1]
		}
	}
	m.buckets = cum
	m.spans, m.deltas = spans(native)
	return m
}

// nativeIndex is the native bucket holding v at NativeSchema: base^(i-1) < v <= base^i.
func nativeIndex(v float64) int {
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	// log2(v) = exp + log2(frac); bucket i = ceil(log2(v) * 2^schema).
	return int(math.Ceil((float64(exp) + math.Log2(frac)) * (1 << NativeSchema)))
}

// spans encodes native buckets as spans and deltas (the protobuf form).
func spans(b map[int]int64) ([]*dto.BucketSpan, []int64) {
	if len(b) == 0 {
		return nil, nil
	}
	keys := make([]int, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sp []*dto.BucketSpan
	var deltas []int64
	var prevCount int64
	next := 0
	for i, k := range keys {
		if i == 0 || k != next {
			off := int32(k)
			if i > 0 {
				off = int32(k - next)
			}
			sp = append(sp, &dto.BucketSpan{Offset: &off, Length: new(uint32)})
		}
		*sp[len(sp)-1].Length++
		deltas = append(deltas, b[k]-prevCount)
		prevCount = b[k]
		next = k + 1
	}
	return sp, deltas
}

type latency struct {
	desc        *prometheus.Desc
	labels      []*dto.LabelPair
	count, zero uint64
	sum         float64
	buckets     []uint64 // cumulative, per Buckets
	spans       []*dto.BucketSpan
	deltas      []int64
}

func (m *latency) Desc() *prometheus.Desc { return m.desc }

func (m *latency) Write(out *dto.Metric) error {
	h := &dto.Histogram{SampleCount: &m.count, SampleSum: &m.sum, Schema: new(int32), ZeroThreshold: new(float64), ZeroCount: &m.zero,
		PositiveSpan: m.spans, PositiveDelta: m.deltas}
	*h.Schema = NativeSchema
	// A positive zero threshold (client_golang's default, far below a microsecond) marks even
	// an empty histogram as native: Prometheus decides for the whole family from its first
	// histogram, and the first class is often one with no requests yet.
	*h.ZeroThreshold = prometheus.DefNativeHistogramZeroThreshold
	for i, le := range Buckets {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: &le, CumulativeCount: &m.buckets[i]})
	}
	if len(m.spans) == 0 {
		// An empty native histogram needs a span to be told from a classic one.
		h.PositiveSpan = []*dto.BucketSpan{{Offset: new(int32), Length: new(uint32)}}
	}
	out.Histogram, out.Label = h, m.labels
	return nil
}

// Origin sends the origin's counts o as the gatecrash_origin_* counters, with the
// label names and values given (none for a fault server's own /metrics; scenario and variant
// for a run's in-process origins). The one writer of these families: the fault server and
// gatecrash run export them alike.
func Origin(ch chan<- prometheus.Metric, o *results.OriginCounts, names, values []string) {
	counter := func(name, help string, v uint64, extra ...string) {
		ln := slices.Clone(names)
		lv := slices.Clone(values)
		for i := 0; i+1 < len(extra); i += 2 {
			ln, lv = append(ln, extra[i]), append(lv, extra[i+1])
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, ln, nil), prometheus.CounterValue, float64(v), lv...)
	}
	counter("gatecrash_origin_connections_accepted_total", "TCP connections the fault server accepted.", o.ConnectionsAccepted)
	counter("gatecrash_origin_tls_handshakes_total", "TLS handshakes the fault server completed.", o.TLSHandshakes)
	counter("gatecrash_origin_tls_handshake_errors_total", "TLS handshakes that failed at the fault server.", o.TLSHandshakeErrors)
	counter("gatecrash_origin_requests_started_total", "Requests of which the fault server saw at least one byte (a proxy's retry counts twice).", o.RequestsStarted)
	counter("gatecrash_origin_requests_read_total", "Requests whose whole head the fault server read.", o.RequestsRead)
	counter("gatecrash_origin_responses_completed_total", "Responses the fault server wrote in full.", o.ResponsesCompleted)
	counter("gatecrash_origin_bad_requests_total", "Requests the fault server's parser rejected.", o.BadRequests)
	help := "Connection ends seen by the fault server, by side (server, peer) and how (fin, rst)."
	counter("gatecrash_origin_closes_total", help, o.Closes.ServerFIN, "side", "server", "how", "fin")
	counter("gatecrash_origin_closes_total", help, o.Closes.ServerRST, "side", "server", "how", "rst")
	counter("gatecrash_origin_closes_total", help, o.Closes.PeerFIN, "side", "peer", "how", "fin")
	counter("gatecrash_origin_closes_total", help, o.Closes.PeerRST, "side", "peer", "how", "rst")
	kinds := make([]string, 0, len(o.Faults))
	for k := range o.Faults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		counter("gatecrash_origin_faults_injected_total", "Faults the fault server injected, by kind.", o.Faults[k], "kind", k)
	}
	if r := o.Relay; r != nil {
		counter("gatecrash_relay_app_connections_opened_total", "Connections the relay opened to the app.", r.ConnectionsOpened)
		counter("gatecrash_relay_requests_forwarded_total", "Requests the relay sent to the app.", r.RequestsForwarded)
		counter("gatecrash_relay_requests_on_reused_total", "Requests the relay sent to the app on a connection that had carried one before.", r.RequestsOnReused)
		counter("gatecrash_relay_responses_relayed_total", "The app's responses the relay passed on in full.", r.ResponsesRelayed)
		help := "App connections that ended, by who ended them: the app while idle (its keep-alive timeout), the app after a response, or the relay."
		counter("gatecrash_relay_app_connections_closed_total", help, r.AppClosedIdle, "by", "app_idle")
		counter("gatecrash_relay_app_connections_closed_total", help, r.AppClosedAfterResponse, "by", "app_after_response")
		counter("gatecrash_relay_app_connections_closed_total", help, r.RelayClosed, "by", "relay")
		help = "The app's own failures as the relay saw them, by kind (never counted as injected faults)."
		e := r.AppErrors
		for _, kv := range []struct {
			kind string
			n    uint64
		}{{"connect", e.Connect}, {"reset", e.Reset}, {"closed", e.Closed}, {"timeout", e.Timeout}, {"malformed", e.Malformed}} {
			counter("gatecrash_relay_app_errors_total", help, kv.n, "kind", kv.kind)
		}
	}
}

// CollectorFunc is a prometheus.Collector made of a function that sends the metrics of the
// moment (an unchecked collector: its series are known only when collected).
type CollectorFunc func(ch chan<- prometheus.Metric)

// Describe sends nothing: the collector is unchecked.
func (f CollectorFunc) Describe(chan<- *prometheus.Desc) {}

// Collect sends the metrics.
func (f CollectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// NewRegistry returns a registry with the process's own figures (process_* and go_*: memory,
// file descriptors, goroutines, CPU) and gatecrash_build_info, every series labelled with
// labels (run_id, shard, scenario where known: one process, one run).
func NewRegistry(version string, labels prometheus.Labels) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWith(labels, reg)
	wrapped.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatecrash_build_info", Help: "Always 1: the gatecrash version and the Go it was built with.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	info.Set(1)
	wrapped.MustRegister(info)
	return reg
}

// Handler serves reg at /metrics: the text format, OpenMetrics, or protobuf (with native
// histograms) as the scraper asks.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: reg})
}
