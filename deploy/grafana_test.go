package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/metrics"
	"github.com/gatecrash/gatecrash/results"
)

// Dashboard is the part of a Grafana dashboard the tests read: every panel's queries.
type Dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// DashboardQueries returns every query of deploy/grafana/gatecrash.json, with Grafana's
// variables put in as a query against one run would have them.
func DashboardQueries(t testing.TB, path, runID, rateInterval string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, strings.NewReplacer("$__rate_interval", rateInterval, "$run_id", runID).Replace(tg.Expr))
		}
	}
	return out
}

// exported returns the names of every metric family gatecrash exports: a load's (with a
// run's in-process origin, so the origin's families too) and the process's own.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	reg := &metrics.Registry{Version: "test", Labels: map[string]string{"run_id": "x"}}
	truth := &results.OriginTruth{OriginCounts: results.OriginCounts{Faults: map[string]uint64{"idle-close": 0}}}
	r := &results.Result{Start: time.Now(), Origin: truth, ProxyLog: map[string]int64{"p": 0}}
	reg.Set(metrics.Source{Snapshot: func() *results.Result { return r }, Origin: true})
	var b strings.Builder
	if err := reg.Write(&b); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(b.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(name)
			names[f[0]] = true
			if f[1] == "histogram" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f[0]+s] = true
				}
			}
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\b(?:gatecrash|process|go)_[a-zA-Z0-9_]+`)

// TestDashboardNamesExportedMetrics: every metric a query of the Grafana dashboard names is
// one gatecrash exports (a renamed metric leaves a panel empty and nobody notices).
func TestDashboardNamesExportedMetrics(t *testing.T) {
	t.Parallel()
	names := exported(t)
	queries := DashboardQueries(t, "grafana/gatecrash.json", "x", "1m")
	if len(queries) < 8 {
		t.Fatalf("%d queries in the dashboard", len(queries))
	}
	used := map[string]bool{}
	for _, q := range queries {
		for _, m := range metricName.FindAllString(q, -1) {
			used[m] = true
			if !names[m] {
				t.Errorf("the dashboard queries %s, which gatecrash does not export (query %q)", m, q)
			}
		}
	}
	for _, must := range []string{"gatecrash_requests_total", "gatecrash_request_duration_seconds_bucket", "gatecrash_origin_faults_injected_total",
		"gatecrash_requests_behind_schedule", "gatecrash_connections_opened_total", "process_resident_memory_bytes", "go_goroutines"} {
		if !used[must] {
			t.Errorf("the dashboard shows no %s", must)
		}
	}
}
