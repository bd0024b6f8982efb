package results

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrIncompatible marks results that cannot be merged: they measure different things.
var ErrIncompatible = errors.New("results cannot be merged")

// Merge adds shards — results of the same load run from several machines — into one: counts
// and latency histograms added, time series aligned by wall-clock time, exemplars kept up to
// the bound, start the earliest and end the latest. The shards must agree on scenario, variant,
// method and pattern. Origin ground truth is summed when every shard has it. The inputs are
// not modified.
func Merge(rs ...*Result) (*Result, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: nothing to merge", ErrIncompatible)
	}
	first := rs[0]
	out := &Result{Schema: Schema, Scenario: first.Scenario, Variant: first.Variant, Target: first.Target,
		Start: first.Start, End: first.End, Outcomes: map[Class]*Outcome{}}
	var ts *TimeSeries
	exemplars := map[Class][]Exemplar{}
	var origins []OriginTruth
	for i, r := range rs {
		if r.Scenario != first.Scenario || r.Variant != first.Variant || r.Target.Method != first.Target.Method ||
			r.Target.Pattern != first.Target.Pattern {
			return nil, fmt.Errorf("%w: shard %d is %s/%s %s %s, shard 0 is %s/%s %s %s", ErrIncompatible, i,
				r.Scenario, r.Variant, r.Target.Method, r.Target.Pattern, first.Scenario, first.Variant, first.Target.Method, first.Target.Pattern)
		}
		if r.Start.Before(out.Start) {
			out.Start = r.Start
		}
		if r.End.After(out.End) {
			out.End = r.End
		}
		if i > 0 {
			out.Target.Connections += r.Target.Connections
			out.Target.Rate += r.Target.Rate
		}
		out.Interrupted = out.Interrupted || r.Interrupted
		out.Requests += r.Requests
		out.Aborted += r.Aborted
		out.Late += r.Late
		out.Unsent += r.Unsent
		out.Connections.Opened += r.Connections.Opened
		out.Connections.ReusedRequests += r.Connections.ReusedRequests
		for c, o := range r.Outcomes {
			m := out.Outcomes[c]
			if m == nil {
				m = &Outcome{Latency: NewHistogram(), First: o.First, Last: o.Last}
				out.Outcomes[c] = m
			}
			m.Count += o.Count
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
	out.TimeSeries = ts
	if len(exemplars) > 0 {
		out.Exemplars = exemplars
	}
	if len(origins) == len(rs) {
		sum := OriginTruth{Faults: map[string]uint64{}}
		for _, o := range origins {
			sum.RequestsStarted += o.RequestsStarted
			for k, n := range o.Faults {
				sum.Faults[k] += n
			}
		}
		b, err := json.Marshal(sum)
		if err != nil {
			return nil, err
		}
		out.Origin = b
	}
	return out, out.Validate()
}
