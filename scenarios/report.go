package scenarios

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/results"
)

// WriteComparison writes the variants side by side: per class the count and rate with its 95%
// interval, latency, the origin's injected faults against the errors the client saw (the
// difference is what the proxy absorbed, by retrying or otherwise), the proxy's error-log
// lines, time to the first error, and the verdicts. markdown wraps it for a report file.
func WriteComparison(w io.Writer, run *Run, markdown bool) {
	var b strings.Builder
	if markdown {
		fmt.Fprintf(&b, "# gatecrash run: %s\n\n%s\n\nProxy: %s. Run folder: `%s`.\n\n```\n", run.Scenario.Name, run.Scenario.Description, run.Proxy, run.Dir)
	} else {
		fmt.Fprintf(&b, "\nscenario %s, proxy %s\n\n", run.Scenario.Name, run.Proxy)
	}
	rs := run.Results
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	row := func(label string, cell func(r *results.Result) string) {
		fmt.Fprint(tw, label)
		for _, r := range rs {
			fmt.Fprint(tw, "\t", cell(r))
		}
		fmt.Fprintln(tw, "\t")
	}
	row("", func(r *results.Result) string { return r.Variant })
	row("requests", func(r *results.Result) string {
		s := results.FormatCount(r.Requests)
		if r.Interrupted {
			s += " (interrupted)"
		}
		return s
	})
	for _, c := range results.Classes() {
		if !anyHas(rs, c) {
			continue
		}
		row(c.String(), func(r *results.Result) string {
			if c == results.OK {
				return results.FormatCount(r.Count(c)) + " " + results.FormatShare(r.Count(c), r.Requests)
			}
			iv := results.RateInterval(r.Count(c), r.Requests)
			if r.Count(c) == 0 {
				return "0  (< " + results.FormatRate(iv.Hi) + ")"
			}
			return results.FormatCount(r.Count(c)) + "  " + iv.String()
		})
	}
	row("ok p50 / p99", func(r *results.Result) string {
		o := r.Outcomes[results.OK]
		if o == nil {
			return "-"
		}
		return results.FormatDuration(o.Latency.Quantile(50)) + " / " + results.FormatDuration(o.Latency.Quantile(99))
	})
	// How fast each failure reproduces: time from the start to its first occurrence.
	row("first error after", func(r *results.Result) string {
		var parts []string
		for _, c := range results.Classes() {
			if o := r.Outcomes[c]; c.IsError() && o != nil && o.Count > 0 {
				parts = append(parts, "+"+results.FormatDuration(o.First.Sub(r.Start))+" ("+c.String()+")")
			}
		}
		if len(parts) == 0 {
			return "-"
		}
		return strings.Join(parts, ", ")
	})
	row("faults injected", func(r *results.Result) string {
		st, ok := originStats(r)
		if !ok {
			return "-"
		}
		return faultList(st)
	})
	row("client errors", func(r *results.Result) string { return results.FormatCount(r.Errors()) })
	row("absorbed by proxy", func(r *results.Result) string {
		st, ok := originStats(r)
		if !ok {
			return "-"
		}
		return results.FormatCount(max(int64(st.FaultsTotal())-r.Errors(), 0))
	})
	row("origin requests", func(r *results.Result) string {
		st, ok := originStats(r)
		if !ok {
			return "-"
		}
		return results.FormatCount(int64(st.RequestsStarted))
	})
	for _, name := range logNames(rs) {
		row("log: "+name, func(r *results.Result) string { return results.FormatCount(r.ProxyLog[name]) })
	}
	tw.Flush()
	if markdown {
		b.WriteString("```\n")
	}
	if len(run.Verdicts) > 0 {
		b.WriteString("\nthresholds:\n")
		for _, v := range run.Verdicts {
			fmt.Fprintf(&b, "  %s\n", v)
		}
	}
	if lines := differences(rs); len(lines) > 0 {
		b.WriteString("\ndifferences (95%):\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	io.WriteString(w, b.String())
}

func anyHas(rs []*results.Result, c results.Class) bool {
	for _, r := range rs {
		if r.Count(c) > 0 {
			return true
		}
	}
	return false
}

func originStats(r *results.Result) (faultserver.Stats, bool) {
	var st faultserver.Stats
	if len(r.Origin) == 0 || json.Unmarshal(r.Origin, &st) != nil {
		return st, false
	}
	return st, true
}

func faultList(st faultserver.Stats) string {
	var parts []string
	for _, k := range faultserver.Kinds() {
		if n := st.Faults[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", k, results.FormatCount(int64(n))))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

// logNames lists the proxy log patterns that matched in any result.
func logNames(rs []*results.Result) []string {
	set := map[string]bool{}
	for _, r := range rs {
		for k, n := range r.ProxyLog {
			if n > 0 {
				set[k] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// differences says, for each pair of variants and each error class that occurred, whether the
// rates differ significantly.
func differences(rs []*results.Result) []string {
	var out []string
	for i := 0; i < len(rs); i++ {
		for j := i + 1; j < len(rs); j++ {
			a, b := rs[i], rs[j]
			for _, c := range results.Classes() {
				if !c.IsError() || a.Count(c)+b.Count(c) == 0 {
					continue
				}
				ia, ib := results.RateInterval(a.Count(c), a.Requests), results.RateInterval(b.Count(c), b.Requests)
				verdict := "not significantly different"
				if results.Significant(ia, ib) {
					if ia.Rate < ib.Rate {
						verdict = a.Variant + " significantly lower"
					} else {
						verdict = b.Variant + " significantly lower"
					}
				}
				out = append(out, fmt.Sprintf("%s: %s %s vs %s %s: %s", c, a.Variant, ia, b.Variant, ib, verdict))
			}
		}
	}
	return out
}
