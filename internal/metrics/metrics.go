// Package metrics serves a running load's figures to Prometheus (and Grafana behind it)
// during a long soak. Every scrape takes a fresh snapshot of each load; nothing is kept
// between scrapes. The exposition itself — histograms, the origin's counters, the process's
// figures — is internal/promexp's, shared with the fault server.
//
// Every series of a load is there from the first scrape, at zero until something happens,
// and carries the labels run_id, shard, scenario and variant (empty ones are left out, as
// Prometheus does): the shards of one run add up with sum by (...) without (shard).
package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/gatecrash/gatecrash/internal/promexp"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/results"
)

// Source is one load whose figures are served: a plain `gatecrash load`, or one variant of a
// scenario run.
type Source struct {
	Scenario, Variant string
	// Run is the run the load is a piece of: its id and shard label every series.
	Run results.RunInfo
	// Snapshot returns the result so far (loadgen.Live.Snapshot, or the runner's, which adds
	// the origin's counters and the proxy's log counts). Nil: nothing yet.
	Snapshot func() *results.Result
	// Gauges returns the figures of the moment (nil: none).
	Gauges func() loadgen.Gauges
	// Origin exports the snapshot's origin ground truth as the gatecrash_origin_* counters:
	// set for gatecrash run, whose origins live in the process and have no /metrics of their
	// own. A load against a separate fault server leaves it off: the fault server exports
	// those series itself, and a second copy would double them in every sum().
	Origin bool
}

// Registry holds the sources to serve. Its zero value is ready to use; Version and Labels
// are read when it is first served.
type Registry struct {
	// Version is gatecrash's version, for gatecrash_build_info.
	Version string
	// Labels go on the process's own series (process_*, go_*, gatecrash_build_info): the
	// process's run_id, shard and scenario.
	Labels prometheus.Labels

	mu      sync.Mutex
	sources []Source
	prom    *prometheus.Registry
	handler http.Handler
}

// Set adds s, or replaces the source with the same scenario and variant.
func (r *Registry) Set(s Source) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.sources {
		if r.sources[i].Scenario == s.Scenario && r.sources[i].Variant == s.Variant {
			r.sources[i] = s
			return
		}
	}
	r.sources = append(r.sources, s)
}

// registry builds the Prometheus registry on first use.
func (r *Registry) registry() (*prometheus.Registry, http.Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prom == nil {
		labels := prometheus.Labels{}
		for k, v := range r.Labels {
			if v != "" {
				labels[k] = v
			}
		}
		r.prom = promexp.NewRegistry(r.Version, labels)
		r.prom.MustRegister(promexp.CollectorFunc(r.collect))
		r.handler = promexp.Handler(r.prom)
	}
	return r.prom, r.handler
}

// ServeHTTP serves every source's metrics and the process's own.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, h := r.registry()
	h.ServeHTTP(w, req)
}

// Write writes everything in the Prometheus text format (what a plain scrape gets).
func (r *Registry) Write(w io.Writer) error {
	reg, _ := r.registry()
	fams, err := reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	return nil
}

// loadLabels are the labels of every load series.
var loadLabels = []string{"run_id", "shard", "scenario", "variant"}

// collect sends every source's series.
func (r *Registry) collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	sources := slices.Clone(r.sources)
	r.mu.Unlock()
	for _, s := range sources {
		collectSource(ch, s)
	}
}

func collectSource(ch chan<- prometheus.Metric, s Source) {
	base := []string{s.Run.ID, strconv.Itoa(s.Run.Shard), s.Scenario, s.Variant}
	send := func(name, help string, typ prometheus.ValueType, v float64, extra ...string) {
		names, values := slices.Clone(loadLabels), slices.Clone(base)
		for i := 0; i+1 < len(extra); i += 2 {
			names, values = append(names, extra[i]), append(values, extra[i+1])
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, names, nil), typ, v, values...)
	}
	gauge := func(name, help string, v float64, extra ...string) {
		send(name, help, prometheus.GaugeValue, v, extra...)
	}
	counter := func(name, help string, v float64, extra ...string) {
		send(name, help, prometheus.CounterValue, v, extra...)
	}

	var g loadgen.Gauges
	if s.Gauges != nil {
		g = s.Gauges()
	}
	gauge("gatecrash_requests_in_flight", "Requests started and not finished.", float64(g.InFlight))
	gauge("gatecrash_requests_behind_schedule",
		"Open-loop requests overdue by more than 1ms that no connection has started: the target falls behind the rate.", float64(g.Behind))
	res := s.Snapshot()
	if res == nil {
		res = &results.Result{} // not started yet: every series at zero
	}
	running := 0.0
	if res.Partial {
		running = 1
	}
	gauge("gatecrash_running", "1 while the load runs, 0 before it starts and once it has ended.", running)
	if !res.Start.IsZero() {
		gauge("gatecrash_start_time_seconds", "When the load started (Unix time).", float64(res.Start.UnixNano())/1e9)
	}
	gauge("gatecrash_elapsed_seconds", "Time the figures cover.", max(res.Duration().Seconds(), 0))
	for _, c := range results.Classes() {
		counter("gatecrash_requests_total", "Requests finished, by outcome class.", float64(res.Count(c)), "class", c.String())
	}
	for _, c := range results.Classes() {
		if !c.IsError() {
			continue
		}
		var stale, race int64
		if o := res.Outcomes[c]; o != nil {
			stale, race = o.Stale, o.Race
		}
		help := "Errors on reused connections: stale (the peer's close was there before the request was written) or race (it came after)."
		counter("gatecrash_reused_connection_errors_total", help, float64(stale), "class", c.String(), "reuse", "stale")
		counter("gatecrash_reused_connection_errors_total", help, float64(race), "class", c.String(), "reuse", "race")
	}
	counter("gatecrash_connections_opened_total", "Connections the load generator opened.", float64(res.Connections.Opened))
	counter("gatecrash_requests_on_reused_connections_total", "Requests sent on a connection that had served one before.",
		float64(res.Connections.ReusedRequests))
	counter("gatecrash_stale_connections_discarded_total",
		"Idle connections the client model found closed by the peer and replaced instead of reusing.", float64(res.Connections.StaleDiscarded))
	counter("gatecrash_late_starts_total", "Open-loop requests that started more than 1ms after their intended time.", float64(res.Late))
	counter("gatecrash_aborted_requests_total", "Requests in flight when an interrupted run gave up on them.", float64(res.Aborted))
	counter("gatecrash_unsent_requests_total", "Open-loop requests due before the end that never started (every connection was busy).",
		float64(res.Unsent))
	desc := prometheus.NewDesc("gatecrash_request_duration_seconds",
		"Request latency by outcome class, from the intended start (from the load's HdrHistogram, 3 significant digits).",
		append(slices.Clone(loadLabels), "class"), nil)
	for _, c := range results.Classes() {
		var h *results.Histogram
		if o := res.Outcomes[c]; o != nil {
			h = o.Latency
		}
		ch <- promexp.Latency(desc, h, append(slices.Clone(base), c.String())...)
	}
	if s.Origin && res.Origin != nil {
		promexp.Origin(ch, &res.Origin.OriginCounts, loadLabels, base)
	}
	keys := make([]string, 0, len(res.ProxyLog))
	for k := range res.ProxyLog {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		counter("gatecrash_proxy_log_lines_total", "Known upstream-error lines in the proxy's logs, by pattern.", float64(res.ProxyLog[k]), "pattern", k)
	}
}

// Serve listens on addr and serves the registry at /metrics (and /) until stop is called;
// stop shuts the server down and waits for it.
func Serve(addr string, reg *Registry) (listening string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", reg)
	mux.Handle("/{$}", reg)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
