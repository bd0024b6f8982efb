// Package metrics serves a running load's figures in the Prometheus text exposition format,
// for Prometheus (and Grafana behind it) to scrape during a long soak. Every scrape takes a
// fresh snapshot of each load; nothing is kept between scrapes.
package metrics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatecrash/gatecrash/internal/procstats"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/results"
)

// Source is one load whose figures are served: a plain `gatecrash load`, or one variant of a
// scenario run.
type Source struct {
	Scenario, Variant string
	// Snapshot returns the result so far (loadgen.Live.Snapshot, or the runner's, which adds
	// the origin's counters and the proxy's log counts). Nil: nothing yet.
	Snapshot func() *results.Result
	// Gauges returns the figures of the moment (nil: none).
	Gauges func() loadgen.Gauges
}

// Registry holds the sources to serve. Its zero value is ready to use.
type Registry struct {
	mu      sync.Mutex
	sources []Source
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

// Quantiles are the latency quantiles served per class (1 is the maximum).
var Quantiles = []float64{0.5, 0.9, 0.99, 0.999, 1}

// ServeHTTP writes every source's metrics.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	r.Write(bw)
	bw.Flush()
}

// family is one metric family: its samples across every source, written together (the text
// format wants each family's samples in one block under its HELP and TYPE).
type family struct {
	name, typ, help string
	lines           []string
}

// Write writes the metrics of every source to w.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	sources := slices.Clone(r.sources)
	r.mu.Unlock()
	var order []string
	fams := map[string]*family{}
	add := func(name, typ, help string, labels []string, v float64) {
		f := fams[name]
		if f == nil {
			f = &family{name: name, typ: typ, help: help}
			fams[name] = f
			order = append(order, name)
		}
		f.lines = append(f.lines, sample(name, labels, v))
	}
	for _, s := range sources {
		base := []string{"scenario", s.Scenario, "variant", s.Variant}
		with := func(kv ...string) []string { return append(slices.Clone(base), kv...) }
		if s.Gauges != nil {
			g := s.Gauges()
			add("gatecrash_requests_in_flight", "gauge", "Requests started and not finished.", base, float64(g.InFlight))
			add("gatecrash_requests_behind_schedule", "gauge",
				"Open-loop requests overdue by more than 1ms that no connection has started: the target falls behind the rate.", base, float64(g.Behind))
		}
		res := s.Snapshot()
		if res == nil {
			continue
		}
		running := 0.0
		if res.Partial {
			running = 1
		}
		add("gatecrash_running", "gauge", "1 while the load runs, 0 once it has ended.", base, running)
		add("gatecrash_start_time_seconds", "gauge", "When the load started (Unix time).", base, float64(res.Start.UnixNano())/1e9)
		add("gatecrash_elapsed_seconds", "gauge", "Time the figures cover.", base, res.Duration().Seconds())
		for _, c := range results.Classes() {
			add("gatecrash_requests_total", "counter", "Requests finished, by outcome class.", with("class", c.String()), float64(res.Count(c)))
		}
		for _, c := range results.Classes() {
			o := res.Outcomes[c]
			if o == nil || !c.IsError() {
				continue
			}
			add("gatecrash_reused_connection_errors_total", "counter",
				"Errors on reused connections: stale (the peer's close was there before the request was written) or race (it came after).",
				with("class", c.String(), "reuse", "stale"), float64(o.Stale))
			add("gatecrash_reused_connection_errors_total", "counter", "", with("class", c.String(), "reuse", "race"), float64(o.Race))
		}
		add("gatecrash_connections_opened_total", "counter", "Connections the load generator opened.", base, float64(res.Connections.Opened))
		add("gatecrash_requests_on_reused_connections_total", "counter", "Requests sent on a connection that had served one before.",
			base, float64(res.Connections.ReusedRequests))
		add("gatecrash_stale_connections_discarded_total", "counter",
			"Idle connections the client model found closed by the peer and replaced instead of reusing.", base, float64(res.Connections.StaleDiscarded))
		add("gatecrash_late_starts_total", "counter", "Open-loop requests that started more than 1ms after their intended time.", base, float64(res.Late))
		add("gatecrash_aborted_requests_total", "counter", "Requests in flight when an interrupted run gave up on them.", base, float64(res.Aborted))
		for _, c := range results.Classes() {
			o := res.Outcomes[c]
			if o == nil || o.Latency == nil || o.Count == 0 {
				continue
			}
			name := "gatecrash_request_duration_seconds"
			help := "Request latency by outcome class, from the intended start (HdrHistogram, 3 significant digits); quantile 1 is the maximum."
			for _, q := range Quantiles {
				add(name, "summary", help, with("class", c.String(), "quantile", strconv.FormatFloat(q, 'g', -1, 64)),
					o.Latency.Quantile(q*100).Seconds())
			}
			fams[name].lines = append(fams[name].lines,
				sample(name+"_sum", with("class", c.String()), o.Latency.Mean()*float64(o.Count)/1e6),
				sample(name+"_count", with("class", c.String()), float64(o.Count)))
		}
		if o := res.Origin; o != nil {
			oc := func(name, help string, v uint64) { add("gatecrash_origin_"+name, "counter", help, base, float64(v)) }
			oc("connections_accepted_total", "TCP connections the fault server accepted.", o.ConnectionsAccepted)
			oc("tls_handshakes_total", "TLS handshakes the fault server completed.", o.TLSHandshakes)
			oc("tls_handshake_errors_total", "TLS handshakes that failed at the fault server.", o.TLSHandshakeErrors)
			oc("requests_started_total", "Requests of which the fault server saw at least one byte (a proxy's retry counts twice).", o.RequestsStarted)
			oc("requests_read_total", "Requests whose whole head the fault server read.", o.RequestsRead)
			oc("responses_completed_total", "Responses the fault server wrote in full.", o.ResponsesCompleted)
			oc("bad_requests_total", "Requests the fault server's parser rejected.", o.BadRequests)
			help := "Connection ends seen by the fault server, by side (server, peer) and how (fin, rst)."
			for _, e := range []struct {
				side, how string
				n         uint64
			}{{"server", "fin", o.Closes.ServerFIN}, {"server", "rst", o.Closes.ServerRST}, {"peer", "fin", o.Closes.PeerFIN}, {"peer", "rst", o.Closes.PeerRST}} {
				add("gatecrash_origin_closes_total", "counter", help, with("side", e.side, "how", e.how), float64(e.n))
			}
			for _, k := range sortedKeys(o.Faults) {
				add("gatecrash_origin_faults_injected_total", "counter", "Faults the fault server injected, by kind.", with("kind", k), float64(o.Faults[k]))
			}
		}
		for _, k := range sortedKeys(res.ProxyLog) {
			add("gatecrash_proxy_log_lines_total", "counter", "Known upstream-error lines in the proxy's logs, by pattern.", with("pattern", k), float64(res.ProxyLog[k]))
		}
	}
	for _, name := range order {
		f := fams[name]
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
		for _, l := range f.lines {
			io.WriteString(w, l)
		}
	}
	procstats.Write(w) // the load generator's own goroutines, heap, memory and files
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sample formats one sample line; labels are name, value pairs.
func sample(name string, labels []string, v float64) string {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	b.WriteByte('\n')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

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
