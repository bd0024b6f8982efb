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
	// AllowPartial merges the shards of a sharded run that are there when some are missing;
	// the result lists the missing ones.
	AllowPartial bool
	// Names are what messages call the inputs, in order (their files); "result N" by default.
	Names []string
}

// name is what messages call input i.
func (o *MergeOptions) name(i int) string {
	if i < len(o.Names) && o.Names[i] != "" {
		return o.Names[i]
	}
	return fmt.Sprintf("result %d", i)
}

// Merge adds shards — results of the same load run from several machines — into one: counts
// and latency histograms added, time series aligned by wall-clock time, exemplars kept up to
// the bound, start the earliest and end the latest. The shards must agree on scenario, variant,
// target URL, method and pattern, and no shard may be another one given twice (MergeOptions
// relaxes the last two). The origin ground truth is merged when every shard has one
// (MergeOrigins: one origin watched by several shards is counted once). The inputs are not modified.
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
	var gaps *Gaps
	gapsOK := true
	exemplars := map[Class][]Exemplar{}
	var origins []*OriginTruth
	var failures []string
	// What was measured comes first: results of two variants are not parts of anything.
	for i, r := range rs {
		if r.Scenario != first.Scenario || r.Variant != first.Variant || r.Target.Method != first.Target.Method ||
			r.Target.Pattern != first.Target.Pattern {
			return nil, fmt.Errorf("%w: %s is %s, %s is %s; merge results of one measurement (the same scenario, variant, "+
				"method and pattern)", ErrIncompatible, opts.name(i), measured(r), opts.name(0), measured(first))
		}
		if r.Target.Client != first.Target.Client {
			return nil, fmt.Errorf("%w: %s used client model %q, %s %q", ErrIncompatible, opts.name(i), r.Target.Client,
				opts.name(0), first.Target.Client)
		}
	}
	pieces, err := piecesOf(rs, opts)
	if err != nil {
		return nil, err
	}
	segs := pieces.segments // nil unless the results are parts of one run
	for i, r := range rs {
		// Segments of one run may differ in URL: a scenario run starts its proxy on a new
		// port each time; the run's identity ties them together. Shards must agree.
		if r.Target.URL != first.Target.URL && !opts.AllowDifferentTargets && (segs == nil || pieces.sharded) {
			return nil, fmt.Errorf("%w: %s loaded %s, %s loaded %s; their errors would be counted as one "+
				"target's (allow it with --allow-different-targets)", ErrIncompatible, opts.name(i), r.Target.URL, opts.name(0), first.Target.URL)
		}
		if !opts.AllowDuplicates && segs == nil {
			for j := range i {
				if sameRun(rs[j], r) {
					return nil, fmt.Errorf("%w: %s is the same result as %s (same start, end and counts): "+
						"the same file given twice would double every count (allow it with --allow-duplicates)", ErrIncompatible,
						opts.name(i), opts.name(j))
				}
			}
		}
		if r.Start.Before(out.Start) {
			out.Start = r.Start
		}
		if r.End.After(out.End) {
			out.End = r.End
		}
		// Shards run side by side: their connections and rates add up. Segments run one
		// after the other: a shard's later segments add nothing.
		if i > 0 && (segs == nil || pieces.firstOfShard[i]) {
			out.Target.Connections += r.Target.Connections
			out.Target.Rate += r.Target.Rate
		}
		out.Spans = append(out.Spans, r.spans()...)
		out.Interrupted = out.Interrupted || r.Interrupted
		out.Partial = out.Partial || r.Partial
		if r.Failure != "" {
			failures = append(failures, fmt.Sprintf("%s: %s", opts.name(i), r.Failure))
		}
		for _, n := range r.Notes {
			if !slices.Contains(out.Notes, n) {
				out.Notes = append(out.Notes, n)
			}
		}
		out.Requests += r.Requests
		out.Aborted += r.Aborted
		out.Late += r.Late
		if r.StartLag != nil {
			if out.StartLag == nil {
				out.StartLag = NewHistogram()
			}
			if dropped := out.StartLag.Merge(r.StartLag.Histogram); dropped != 0 {
				return nil, fmt.Errorf("%w: %s: its start-lag histogram has %d values out of range", ErrIncompatible, opts.name(i), dropped)
			}
		}
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
				return nil, fmt.Errorf("%w: %s: its %s histogram has %d values out of range", ErrIncompatible, opts.name(i), c, dropped)
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
		if r.Gaps != nil && gapsOK {
			if gaps == nil {
				gaps = r.Gaps.NewGapsLike()
			}
			if err := gaps.Merge(r.Gaps); err != nil {
				gapsOK, gaps = false, nil
				out.Notes = append(out.Notes, "idle-gap buckets not added up: "+err.Error())
			}
		}
		for c, ex := range r.Exemplars {
			exemplars[c] = MergeExemplars(exemplars[c], ex)
		}
		out.PerTarget = mergeTargets(out.PerTarget, r.PerTarget)
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
	slices.SortStableFunc(out.Spans, func(a, b Span) int { return a.Start.Compare(b.Start) })
	out.Failure = strings.Join(failures, "; ")
	if segs != nil {
		// Parts of one run: the whole is as finished as each shard's last segment.
		out.Partial, out.Interrupted = false, false
		for _, r := range pieces.lastOfShard {
			out.Partial = out.Partial || r.Partial
			out.Interrupted = out.Interrupted || r.Interrupted
		}
		run := *first.Run
		run.Segment, run.BeforeSeconds, run.BeforeRequests, run.Shard = 0, 0, 0, 0
		run.PlannedSeconds, run.PlannedRequests = 0, 0
		out.Run, out.Segments, out.Shards, out.MissingShards = &run, segs, pieces.shards, pieces.missing
	}
	out.TimeSeries = ts
	out.Gaps = gaps
	if len(exemplars) > 0 {
		out.Exemplars = exemplars
	}
	if len(origins) == len(rs) {
		out.Origin = MergeOrigins(origins)
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

// runPieces is what a merge's inputs are as parts of one run: which segments of which shards.
type runPieces struct {
	segments     []int           // the segment numbers held, sorted and distinct; nil: not one run
	shards       []int           // the shard numbers held (sharded runs only)
	missing      []int           // shards of the run not among the inputs (allowed by AllowPartial)
	sharded      bool            // the run was split over shards
	firstOfShard map[int]bool    // input index → the first input of its shard
	lastOfShard  map[int]*Result // shard → its latest segment among the inputs
}

// piecesOf says whether rs are parts of one run (the same run id) and which. No piece of a
// run (a segment of a shard) may be held by two inputs — a merged result holds the pieces it
// was made of, whatever its own run id says — an error whatever the options say. Parts of one
// run must come from the same split (the same number of shards), and, when the run was
// sharded, every shard must be there unless opts.AllowPartial. Results of different runs are
// merged as independent shards, except that sharded results of different runs are refused.
func piecesOf(rs []*Result, opts MergeOptions) (runPieces, error) {
	held := map[pieceKey]int{}
	for i, r := range rs {
		for _, pc := range r.pieces() {
			if j, dup := held[pc]; dup && j != i {
				what := fmt.Sprintf("segment %d", pc.segment)
				if r.Run != nil && r.Run.Shards > 1 {
					what = fmt.Sprintf("shard %d/%d, segment %d,", pc.shard, r.Run.Shards, pc.segment)
				} else if pc.shard > 0 {
					what = fmt.Sprintf("shard %d, segment %d,", pc.shard, pc.segment)
				}
				return runPieces{}, fmt.Errorf("%w: %s and %s both hold %s of run %s: it would count twice "+
					"(a merged result already holds the parts it was made of)", ErrIncompatible, opts.name(j), opts.name(i), what, pc.run)
			}
			held[pc] = i
		}
	}
	var id string
	same := true
	for _, r := range rs {
		if r.Run == nil || r.Run.ID == "" || id != "" && r.Run.ID != id {
			same = false
			break
		}
		id = r.Run.ID
	}
	if !same {
		var ids []string
		for i, r := range rs {
			if r.Run != nil && r.Run.Shards > 1 {
				ids = append(ids, fmt.Sprintf("%s is shard %d/%d of run %s", opts.name(i), r.Run.Shard, r.Run.Shards, r.Run.ID))
			}
		}
		if len(ids) > 0 {
			return runPieces{}, fmt.Errorf("%w: shards of different runs (%s); merge the shards of one run (the same --run-id)",
				ErrIncompatible, strings.Join(ids, "; "))
		}
		return runPieces{}, nil
	}
	p := runPieces{firstOfShard: map[int]bool{}, lastOfShard: map[int]*Result{}}
	n := rs[0].Run.Shards
	segSet := map[int]bool{}
	for i, r := range rs {
		if r.Run.Shards != n {
			return runPieces{}, fmt.Errorf("%w: %s and %s of run %s were split differently (%d and %d shards)", ErrIncompatible,
				opts.name(0), opts.name(i), id, n, r.Run.Shards)
		}
		// An input adds its connections and rate when none of the shards it holds came
		// before: a shard's later segments, and a merge of shards already counted, add nothing.
		first := true
		for _, pc := range r.pieces() {
			if _, ok := p.lastOfShard[pc.shard]; ok {
				first = false
			}
		}
		p.firstOfShard[i] = first
		for _, pc := range r.pieces() {
			if l := p.lastOfShard[pc.shard]; l == nil || r.End.After(l.End) {
				p.lastOfShard[pc.shard] = r
			}
			segSet[pc.segment] = true
		}
	}
	for s := range segSet {
		p.segments = append(p.segments, s)
	}
	slices.Sort(p.segments)
	if n > 1 {
		p.sharded = true
		for s := range n {
			if _, ok := p.lastOfShard[s]; ok {
				p.shards = append(p.shards, s)
			} else {
				p.missing = append(p.missing, s)
			}
		}
		if len(p.missing) > 0 && !opts.AllowPartial {
			return runPieces{}, fmt.Errorf("%w: run %s was split over %d shards, and shard(s) %v are missing: the merge would "+
				"undercount the run (merge what you have with --allow-partial)", ErrIncompatible, id, n, p.missing)
		}
	}
	return p, nil
}

// measured says what a result measured, for messages: "keepalive-race/default POST gap-sweep".
func measured(r *Result) string {
	what := r.Target.Method + " " + r.Target.Pattern
	if r.Scenario != "" || r.Variant != "" {
		what = r.Scenario + "/" + r.Variant + " " + what
	}
	return what
}
