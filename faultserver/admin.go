package faultserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/gatecrash/gatecrash/internal/promexp"
)

// maxPlanBytes bounds a PUT /faults body.
const maxPlanBytes = 1 << 20

// AdminHandler serves the ground truth and the fault plan:
//
//	GET /stats    counters as JSON
//	GET /events   the newest fault events (?since=TIME), as EventsReply JSON
//	GET /metrics  counters in the Prometheus text format
//	GET /faults   the config being served, as YAML
//	PUT /faults   replace it (same YAML schema as --config; JSON works too, being YAML)
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "gatecrash fault server admin\n\nGET /stats    ground-truth counters (JSON)\n"+
			"GET /metrics  the same in Prometheus text format\nGET /faults   the fault plan (YAML)\n"+
			"PUT /faults   replace the fault plan (YAML body, same schema as --config)\n")
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.Stats())
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		var since time.Time
		if v := r.URL.Query().Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				http.Error(w, "since: "+err.Error()+"; give an RFC 3339 time such as 2026-11-21T15:04:05.123Z", http.StatusBadRequest)
				return
			}
			since = t
		}
		events, dropped := s.FaultEvents(since)
		if events == nil {
			events = []FaultEvent{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(EventsReply{Events: events, Dropped: dropped})
	})
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, _ *http.Request) {
		s.writePlan(w, http.StatusOK)
	})
	mux.HandleFunc("PUT /faults", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPlanBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, fmt.Sprintf("fault plan larger than %d bytes", maxPlanBytes), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading fault plan: "+err.Error(), http.StatusBadRequest)
			return
		}
		cfg, err := ParseConfig(body, "PUT /faults")
		if err == nil {
			err = s.SetConfig(cfg)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.writePlan(w, http.StatusOK)
	})
	return mux
}

// LocalHostsOnly wraps an admin handler bound to loopback: it answers only requests whose
// Host is an IP address or localhost. A web page the operator's browser opens can reach a
// loopback port under a DNS name of its own that resolves there (DNS rebinding) and change the
// fault plan; its requests carry that name as Host, and are refused with 403.
func LocalHostsOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if net.ParseIP(host) == nil && !strings.EqualFold(host, "localhost") {
			http.Error(w, fmt.Sprintf("Host %q refused: the admin API on a loopback address answers requests for an IP address or localhost only", r.Host),
				http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// metricsHandler serves the ground truth as the gatecrash_origin_* counters (the one writer
// of those series, shared with gatecrash run: promexp.Origin), with the server's own process
// figures and gatecrash_build_info, labelled with the server's instance id.
func (s *Server) metricsHandler() http.Handler {
	reg := promexp.NewRegistry(s.version, prometheus.Labels{"origin_instance": s.stats.instance})
	reg.MustRegister(promexp.CollectorFunc(func(ch chan<- prometheus.Metric) {
		st := s.Stats()
		promexp.Origin(ch, &st.OriginCounts, []string{"origin_instance"}, []string{st.Instance})
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("gatecrash_origin_connections_open", "Connections open now.",
			[]string{"origin_instance"}, nil), prometheus.GaugeValue, float64(st.ConnectionsOpen), st.Instance)
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("gatecrash_origin_max_connections_reached_total",
			"Times the connection bound stopped accepting.", []string{"origin_instance"}, nil), prometheus.CounterValue,
			float64(st.MaxConnectionsReached), st.Instance)
		if st.Relay != nil {
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("gatecrash_relay_app_connections_open", "Connections to the app open now.",
				[]string{"origin_instance"}, nil), prometheus.GaugeValue, float64(st.Relay.ConnectionsOpen), st.Instance)
		}
	}))
	return promexp.Handler(reg)
}

func (s *Server) writePlan(w http.ResponseWriter, status int) {
	b, err := yaml.Marshal(s.Config())
	if err != nil {
		http.Error(w, "encoding fault plan: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(status)
	w.Write(b)
}

// EventsReply is the JSON of GET /events.
type EventsReply struct {
	Events []FaultEvent `json:"events"`
	// Dropped counts older events the bounded log no longer holds.
	Dropped uint64 `json:"dropped"`
}
