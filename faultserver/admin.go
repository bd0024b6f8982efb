package faultserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"gopkg.in/yaml.v3"
)

// maxPlanBytes bounds a PUT /faults body.
const maxPlanBytes = 1 << 20

// AdminHandler serves the ground truth and the fault plan:
//
//	GET /stats    counters as JSON
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
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.Stats().WritePrometheus(w)
	})
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
