package results

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// TargetOutcomes are one request of a mixed load (gatecrash load --targets) and what became
// of the requests sent as it.
type TargetOutcomes struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Requests is the sum of Outcomes.
	Requests int64           `json:"requests"`
	Outcomes map[Class]int64 `json:"outcomes"`
}

// Add counts n[c] more requests of each class c.
func (t *TargetOutcomes) Add(n []int64) {
	for c, k := range n {
		if k > 0 {
			t.Outcomes[Class(c)] += k
			t.Requests += k
		}
	}
}

// Errors counts the target's requests with an error outcome.
func (t *TargetOutcomes) Errors() int64 {
	var n int64
	for c, k := range t.Outcomes {
		if c.IsError() {
			n += k
		}
	}
	return n
}

// mergeTargets adds b's per-target counts into a's. Parts of one run (shards, segments) list
// the same targets in the same order: they add up position by position, so a file that names
// one request twice (two POSTs with different bodies) keeps them apart. Lists that differ
// are matched by method and URL (in a's order, then b's new ones).
func mergeTargets(a, b []TargetOutcomes) []TargetOutcomes {
	add := func(dst *TargetOutcomes, t TargetOutcomes) {
		for c, k := range t.Outcomes {
			dst.Outcomes[c] += k
		}
		dst.Requests += t.Requests
	}
	same := len(a) == len(b)
	for i := 0; same && i < len(a); i++ {
		same = a[i].Method == b[i].Method && a[i].URL == b[i].URL
	}
	if len(a) == 0 || same {
		if len(a) == 0 {
			for _, t := range b {
				a = append(a, TargetOutcomes{Method: t.Method, URL: t.URL, Outcomes: map[Class]int64{}})
			}
		}
		for i, t := range b {
			add(&a[i], t)
		}
		return a
	}
	for _, t := range b {
		i := 0
		for i < len(a) && (a[i].Method != t.Method || a[i].URL != t.URL) {
			i++
		}
		if i == len(a) {
			a = append(a, TargetOutcomes{Method: t.Method, URL: t.URL, Outcomes: map[Class]int64{}})
		}
		add(&a[i], t)
	}
	return a
}

// Line says what became of the target's requests: "ok 988, 502 12" (classes in report order).
func (t *TargetOutcomes) Line() string {
	var parts []string
	for _, c := range Classes() {
		if k := t.Outcomes[c]; k > 0 {
			parts = append(parts, c.String()+" "+FormatCount(k))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// writeTargets writes a mixed load's outcomes per target, for the text summary.
func writeTargets(b *strings.Builder, r *Result) {
	if len(r.PerTarget) == 0 {
		return
	}
	fmt.Fprintf(b, "\nper target (%d targets, sent in turn)\n", len(r.PerTarget))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\trequests\terrors\toutcomes")
	for _, t := range r.PerTarget {
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\n", t.Method, t.URL, FormatCount(t.Requests), t.errorsCell(FormatShare), t.Line())
	}
	tw.Flush()
}

// errorsCell is "12 (1.20%)": the errors and their share, in the given notation.
func (t *TargetOutcomes) errorsCell(share func(part, total int64) string) string {
	e := t.Errors()
	if e == 0 {
		return "0"
	}
	return FormatCount(e) + " (" + share(e, t.Requests) + ")"
}
