package results

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrIncompatible marks results that cannot be merged: they measure different things.
var ErrIncompatible = errors.New("results cannot be merged")

// MergeOptions relax Merge's checks, for users who know why their shards differ.
type MergeOptions struct {
	// AllowDifferentTargets merges shards that loaded different URLs (say, two proxies
	// behind one load balancer) into one result under the first shard's target.
	AllowDifferentTargets bool
	// AllowDuplicates merges a shard that looks like another one (same start, end and counts)
	// instead of refusing it as the same file given twice.
	AllowDuplicates bool
}

// Merge adds shards — results of the same load run from several machines — into one: counts
// and latency histograms added, time series aligned by wall-clock time, exemplars kept up to
// the bound, start the earliest and end the latest. The shards must agree on scenario, variant,
// target URL, method and pattern, and no shard may be another one given twice (MergeOptions
// relaxes the last two). Every origin ground-truth counter is summed when every shard has
// one. The inputs are not modified.
func Merge(rs ...*Result) (*Result, error) { return MergeWith(MergeOptions{}, rs...) }

// MergeWith is Merge with options.
func MergeWith(opts MergeOptions, rs ...*Result) (*Result, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: nothing to merge", ErrIncompatible)
	}
	first := rs[0]
	out := &Result{Schema: Schema, Scenario: first.Scenario, Variant: first.Variant, Target: first.Target,
		Start: first.Start, End: first.End, Outcomes: map[Class]*Outcome{}}
	var ts *TimeSeries
	exemplars := map[Class][]Exemplar{}
	var origins []*OriginTruth
	var failures []string
	segs, err := segmentsOf(rs)
	if err != nil {
		return nil, err
	}
	for i, r := range rs {
		if r.Scenario != first.Scenario || r.Variant != first.Variant || r.Target.Method != first.Target.Method ||
			r.Target.Pattern != first.Target.Pattern {
			return nil, fmt.Errorf("%w: shard %d is %s/%s %s %s, shard 0 is %s/%s %s %s", ErrIncompatible, i,
				r.Scenario, r.Variant, r.Target.Method, r.Target.Pattern, first.Scenario, first.Variant, first.Target.Method, first.Target.Pattern)
		}
		if r.Target.Client != first.Target.Client {
			return nil, fmt.Errorf("%w: shard %d used client model %q, shard 0 %q", ErrIncompatible, i, r.Target.Client, first.Target.Client)
		}
		// Segments of one run may differ in URL: a scenario run starts its proxy on a new
		// port each time; the run's identity ties them together.
		if r.Target.URL != first.Target.URL && !opts.AllowDifferentTargets && segs == nil {
			return nil, fmt.Errorf("%w: shard %d loaded %s, shard 0 loaded %s; their errors would be counted as one "+
				"target's (allow it with --allow-different-targets)", ErrIncompatible, i, r.Target.URL, first.Target.URL)
		}
		if !opts.AllowDuplicates && segs == nil {
			for j := range i {
				if sameRun(rs[j], r) {
					return nil, fmt.Errorf("%w: shard %d is the same result as shard %d (same start, end and counts): "+
						"the same file given twice would double every count (allow it with --allow-duplicates)", ErrIncompatible, i, j)
				}
			}
		}
		if r.Start.Before(out.Start) {
			out.Start = r.Start
		}
		if r.End.After(out.End) {
			out.End = r.End
		}
		if i > 0 && segs == nil { // shards run side by side; segments one after the other
			out.Target.Connections += r.Target.Connections
			out.Target.Rate += r.Target.Rate
		}
		out.Interrupted = out.Interrupted || r.Interrupted
		out.Partial = out.Partial || r.Partial
		if r.Failure != "" {
			failures = append(failures, fmt.Sprintf("shard %d: %s", i, r.Failure))
		}
		for _, n := range r.Notes {
			if !slices.Contains(out.Notes, n) {
				out.Notes = append(out.Notes, n)
			}
		}
		out.Requests += r.Requests
		out.Aborted += r.Aborted
		out.Late += r.Late
		out.Unsent += r.Unsent
		out.Connections.Opened += r.Connections.Opened
		out.Connections.ReusedRequests += r.Connections.ReusedRequests
		out.Connections.StaleDiscarded += r.Connections.StaleDiscarded
		for c, o := range r.Outcomes {
			m := out.Outcomes[c]
			if m == nil {
				m = &Outcome{Latency: NewHistogram(), First: o.First, Last: o.Last}
				out.Outcomes[c] = m
			}
			m.Count += o.Count
			m.Stale += o.Stale
			m.Race += o.Race
			if dropped := m.Latency.Merge(o.Latency.Histogram); dropped != 0 {
				return nil, fmt.Errorf("%w: shard %d's %s histogram has %d values out of range", ErrIncompatible, i, c, dropped)
			}
			if o.First.Before(m.First) {
				m.First = o.First
			}
			if o.Last.After(m.Last) {
				m.Last = o.Last
			}
		}
		if r.TimeSeries != nil {
			if ts == nil {
				ts = &TimeSeries{Start: r.TimeSeries.Start, Interval: r.TimeSeries.Interval}
			}
			ts.Merge(r.TimeSeries)
		}
		for c, ex := range r.Exemplars {
			exemplars[c] = MergeExemplars(exemplars[c], ex)
		}
		for k, n := range r.ProxyLog {
			if out.ProxyLog == nil {
				out.ProxyLog = map[string]int64{}
			}
			out.ProxyLog[k] += n
		}
		if o, ok := r.OriginTruth(); ok {
			origins = append(origins, o)
		}
	}
	out.Failure = strings.Join(failures, "; ")
	if segs != nil {
		// Segments of one run: the whole is as finished as its last segment.
		last := rs[0]
		for _, r := range rs {
			if r.End.After(last.End) {
				last = r
			}
		}
		out.Partial, out.Interrupted = last.Partial, last.Interrupted
		run := *first.Run
		run.Segment, run.BeforeSeconds, run.BeforeRequests = 0, 0, 0
		out.Run, out.Segments = &run, segs
	}
	out.TimeSeries = ts
	if len(exemplars) > 0 {
		out.Exemplars = exemplars
	}
	if len(origins) == len(rs) {
		out.Origin = &OriginTruth{Faults: map[string]uint64{}}
		for _, o := range origins {
			out.Origin.Add(o)
		}
	}
	return out, out.Validate()
}

// sameRun reports whether a and b look like one result given twice: shards of one run start
// at slightly different moments and never match to the nanosecond with equal counts.
func sameRun(a, b *Result) bool {
	if !a.Start.Equal(b.Start) || !a.End.Equal(b.End) || a.Requests != b.Requests || len(a.Outcomes) != len(b.Outcomes) {
		return false
	}
	for c, o := range a.Outcomes {
		if b.Count(c) != o.Count {
			return false
		}
	}
	return true
}

// segmentsOf returns the segment numbers rs hold when they are all segments of one run (the
// same run id), nil when they are not. Two results holding the same segment would count it
// twice: that is an error whatever the options say.
func segmentsOf(rs []*Result) ([]int, error) {
	var id string
	for _, r := range rs {
		if r.Run == nil || r.Run.ID == "" || id != "" && r.Run.ID != id {
			return nil, nil
		}
		id = r.Run.ID
	}
	seen := map[int]int{}
	var all []int
	for i, r := range rs {
		held := r.Segments
		if len(held) == 0 {
			held = []int{r.Run.Segment}
		}
		for _, s := range held {
			if j, dup := seen[s]; dup {
				return nil, fmt.Errorf("%w: results %d and %d both hold segment %d of run %s: it would count twice "+
					"(a merged result already holds the segments it was made of)", ErrIncompatible, j, i, s, id)
			}
			seen[s] = i
			all = append(all, s)
		}
	}
	slices.Sort(all)
	return all, nil
}
