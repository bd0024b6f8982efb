package results

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// Significance is the p-value under which a difference is called significant.
const Significance = 0.05

// Difference compares one error class between two results.
type Difference struct {
	Class Class
	A, B  *Result
	IA    Interval
	IB    Interval
	// P is the two-sided p-value of Fisher's exact test.
	P float64
}

// Significant reports whether the rates differ at the 5% level.
func (d Difference) Significant() bool { return d.P < Significance }

// String is the one-line verdict: "502: fixed 0 (< 3.0e-06) vs default 2.1e-03
// (1.9e-03..2.3e-03): fixed significantly lower (p = 1.2e-08)".
func (d Difference) String() string {
	return d.text(Interval.String)
}

// text is String with the intervals in the given notation.
func (d Difference) text(rate func(Interval) string) string {
	a, b := name(d.A), name(d.B)
	verdict := "not significantly different"
	if d.Significant() {
		if d.IA.Rate < d.IB.Rate {
			verdict = a + " significantly lower"
		} else {
			verdict = b + " significantly lower"
		}
	}
	return fmt.Sprintf("%s: %s %s vs %s %s: %s (p = %.1e)", d.Class, a, rate(d.IA), b, rate(d.IB), verdict, d.P)
}

func name(r *Result) string {
	switch {
	case r.Variant != "":
		return r.Variant
	case r.Scenario != "":
		return r.Scenario
	}
	return r.Target.URL
}

// Differences compares every pair of results on every error class that occurred in either.
func Differences(rs []*Result) []Difference {
	var out []Difference
	for i := 0; i < len(rs); i++ {
		for j := i + 1; j < len(rs); j++ {
			a, b := rs[i], rs[j]
			for _, c := range Classes() {
				ka, kb := a.Count(c), b.Count(c)
				if !c.IsError() || ka+kb == 0 {
					continue
				}
				out = append(out, Difference{Class: c, A: a, B: b, IA: RateInterval(ka, a.Requests), IB: RateInterval(kb, b.Requests),
					P: FisherExact(ka, a.Requests, kb, b.Requests)})
			}
		}
	}
	return out
}

// WriteComparison writes results side by side: per class the count and rate with its 95%
// interval, ok latency and its ratio to the first result, when each error class first
// occurred, the origin's injected faults against the errors the client saw (the difference is
// what the proxy absorbed), the proxy's error-log lines, and one verdict per pair and class.
func WriteComparison(w io.Writer, rs []*Result) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	for _, row := range comparisonTable(rs, false) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	if diffs := Differences(rs); len(diffs) > 0 {
		b.WriteString("\ndifferences (95%, Fisher's exact test):\n")
		for _, d := range diffs {
			fmt.Fprintf(&b, "  %s\n", d)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// comparisonTable returns the comparison's rows, the first the header (an empty label, then
// each result's name). With percent every rate is written as the HTML report writes rates
// (Interval.Pct); without, as the text table does.
func comparisonTable(rs []*Result, percent bool) [][]string {
	var rows [][]string
	row := func(label string, cell func(r *Result) string) {
		cells := []string{label}
		for _, r := range rs {
			cells = append(cells, cell(r))
		}
		rows = append(rows, cells)
	}
	row("", name)
	row("requests", func(r *Result) string {
		s := FormatCount(r.Requests)
		if r.Interrupted {
			s += " (interrupted)"
		}
		if r.Partial {
			s += " (partial)"
		}
		return s
	})
	for _, c := range Classes() {
		if !anyHas(rs, c) {
			continue
		}
		row(c.String(), func(r *Result) string {
			k := r.Count(c)
			if percent { // the HTML report: one notation for every rate
				if c == OK {
					return FormatCount(k) + "  " + FormatPercent(float64(k)/float64(max(r.Requests, 1)))
				}
				return FormatCount(k) + "  " + RateInterval(k, r.Requests).Pct()
			}
			if c == OK {
				return FormatCount(k) + " " + FormatShare(k, r.Requests)
			}
			iv := RateInterval(k, r.Requests)
			if k == 0 {
				return "0  (< " + FormatRate(iv.Hi) + ")"
			}
			return FormatCount(k) + "  " + iv.String()
		})
		if c.IsError() && anyReuseSplit(rs, c) {
			row("  on reused conns", func(r *Result) string {
				if s := r.Outcomes[c].ReuseSplit(); s != "" {
					return s
				}
				return "-"
			})
		}
	}
	if anyClient(rs) {
		row("client model", func(r *Result) string { return r.Target.Client })
		row("stale discarded", func(r *Result) string { return FormatCount(r.Connections.StaleDiscarded) })
	}
	for _, q := range []struct {
		label string
		q     float64
	}{{"ok p50", 50}, {"ok p99", 99}, {"ok p99.9", 99.9}} {
		row(q.label, func(r *Result) string {
			o := r.Outcomes[OK]
			if o == nil {
				return "-"
			}
			s := FormatDuration(o.Latency.Quantile(q.q))
			if base := rs[0].Outcomes[OK]; r != rs[0] && base != nil && base.Latency.Quantile(q.q) > 0 {
				s += fmt.Sprintf(" (%.2fx)", float64(o.Latency.Quantile(q.q))/float64(base.Latency.Quantile(q.q)))
			}
			return s
		})
	}
	row("first error after", func(r *Result) string {
		var parts []string
		for _, c := range Classes() {
			if o := r.Outcomes[c]; c.IsError() && o != nil && o.Count > 0 {
				parts = append(parts, "+"+FormatDuration(o.First.Sub(r.Start))+" ("+c.String()+")")
			}
		}
		if len(parts) == 0 {
			return "-"
		}
		return strings.Join(parts, ", ")
	})
	row("faults injected", func(r *Result) string {
		o, ok := r.OriginTruth()
		if !ok {
			return "-"
		}
		return faultList(o)
	})
	row("client errors", func(r *Result) string { return FormatCount(r.Errors()) })
	row("absorbed by proxy", func(r *Result) string {
		o, ok := r.OriginTruth()
		if !ok {
			return "-"
		}
		n, ok := o.Absorbed(r.Errors())
		switch {
		case !ok && o.appFailed():
			return "- (the app failed too)"
		case !ok:
			return "- (no request-failing faults)"
		}
		return FormatCount(n)
	})
	row("origin requests", func(r *Result) string {
		o, ok := r.OriginTruth()
		if !ok {
			return "-"
		}
		return FormatCount(int64(o.RequestsStarted))
	})
	if slices.ContainsFunc(rs, func(r *Result) bool { return r.Origin != nil && r.Origin.Relay != nil }) {
		relayRow := func(name string, f func(*RelayCounts) string) {
			row(name, func(r *Result) string {
				if r.Origin == nil || r.Origin.Relay == nil {
					return "-"
				}
				return f(r.Origin.Relay)
			})
		}
		relayRow("app connections", func(c *RelayCounts) string {
			return fmt.Sprintf("%s (closed idle by the app %s)", FormatCount(int64(c.ConnectionsOpened)), FormatCount(int64(c.AppClosedIdle)))
		})
		relayRow("app errors (not faults)", func(c *RelayCounts) string { return FormatCount(int64(c.AppErrors.Total())) })
	}
	for _, n := range logNames(rs) {
		row("log: "+n, func(r *Result) string { return FormatCount(r.ProxyLog[n]) })
	}
	if anyGaps(rs) {
		row("worst idle gap", func(r *Result) string {
			if r.Gaps == nil {
				return "-"
			}
			if l := r.Gaps.WorstLine(); l != "" {
				return l
			}
			return "none with errors"
		})
	}
	return rows
}

func anyGaps(rs []*Result) bool {
	for _, r := range rs {
		if r.Gaps != nil {
			return true
		}
	}
	return false
}

func anyHas(rs []*Result, c Class) bool {
	for _, r := range rs {
		if r.Count(c) > 0 {
			return true
		}
	}
	return false
}

func faultList(o *OriginTruth) string {
	kinds := make([]string, 0, len(o.Faults))
	for k, n := range o.Faults {
		if n > 0 {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return "0"
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = k + " " + FormatCount(int64(o.Faults[k]))
	}
	return strings.Join(parts, ", ")
}

func logNames(rs []*Result) []string {
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

func anyReuseSplit(rs []*Result, c Class) bool {
	for _, r := range rs {
		if r.Outcomes[c].ReuseSplit() != "" {
			return true
		}
	}
	return false
}

func anyClient(rs []*Result) bool {
	for _, r := range rs {
		if r.Target.Client != "" {
			return true
		}
	}
	return false
}
