package results

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Span is a stretch of time a piece of a merged result ran: one segment of one shard.
type Span struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Run, Shard and Segment say which piece of which run it was (shard and segment 0 when
	// the run was not split or not resumed; no run for results without a run id): a piece
	// held by two inputs of a merge would count twice.
	Run     string `json:"run,omitempty"`
	Shard   int    `json:"shard,omitempty"`
	Segment int    `json:"segment,omitempty"`
}

// spans returns the stretches r ran: its Spans when it is a merge, else Start to End.
func (r *Result) spans() []Span {
	if len(r.Spans) > 0 {
		return r.Spans
	}
	s := Span{Start: r.Start, End: r.End}
	if r.Run != nil {
		s.Run, s.Shard, s.Segment = r.Run.ID, r.Run.Shard, r.Run.Segment
	}
	return []Span{s}
}

// pieceKey identifies a piece of a run.
type pieceKey struct {
	run            string
	shard, segment int
}

// pieces returns the pieces of runs r holds: its spans' (run, shard, segment), and for a
// merge written before spans were kept, every segment of every shard it lists.
func (r *Result) pieces() []pieceKey {
	var out []pieceKey
	if len(r.Spans) == 0 && r.Run != nil && (len(r.Segments) > 0 || len(r.Shards) > 0) {
		segs, shards := r.Segments, r.Shards
		if len(segs) == 0 {
			segs = []int{r.Run.Segment}
		}
		if len(shards) == 0 {
			shards = []int{r.Run.Shard}
		}
		for _, sh := range shards {
			for _, sg := range segs {
				out = append(out, pieceKey{r.Run.ID, sh, sg})
			}
		}
		return out
	}
	for _, s := range r.spans() {
		if s.Run != "" {
			out = append(out, pieceKey{s.Run, s.Shard, s.Segment})
		}
	}
	return out
}

// activeSpans returns the union of r's spans, sorted and disjoint.
func (r *Result) activeSpans() []Span { return union(r.spans()) }

// union returns the union of spans, sorted and disjoint.
func union(spans []Span) []Span {
	ss := slices.Clone(spans)
	slices.SortFunc(ss, func(a, b Span) int { return a.Start.Compare(b.Start) })
	var out []Span
	for _, s := range ss {
		if n := len(out); n > 0 && !s.Start.After(out[n-1].End) {
			if s.End.After(out[n-1].End) {
				out[n-1].End = s.End
			}
			continue
		}
		out = append(out, Span{Start: s.Start, End: s.End})
	}
	return out
}

// Active returns how long load ran: the union of the pieces' spans. For a result of one
// piece it is Duration; for a soak that crashed and was resumed it leaves out the downtime.
func (r *Result) Active() time.Duration { return measure(r.activeSpans()) }

// measure adds up the lengths of disjoint spans.
func measure(disjoint []Span) time.Duration {
	var d time.Duration
	for _, s := range disjoint {
		d += s.End.Sub(s.Start)
	}
	return d
}

// Downtime returns the time between Start and End when no piece of the run was running.
func (r *Result) Downtime() time.Duration { return r.Duration() - r.Active() }

// Achieved returns the request rate over the active time (0 when there was none).
func (r *Result) Achieved() float64 {
	if a := r.Active(); a > 0 {
		return float64(r.Requests) / a.Seconds()
	}
	return 0
}

// activeAt reports whether some piece of r was running at any moment of [from, to).
func (r *Result) activeAt(from, to time.Time) bool {
	for _, s := range r.activeSpans() {
		if s.Start.Before(to) && s.End.After(from) {
			return true
		}
	}
	return false
}

// MergedFrom says what a merged result was made of, for every report: "merged from 5 pieces
// of run 3f2a…: shards 0, 1, 2 (of 3); segments 0, 1, 2"; "" for a result of one piece.
func (r *Result) MergedFrom() string {
	if len(r.Spans) < 2 {
		return ""
	}
	s := fmt.Sprintf("merged from %d pieces", len(r.Spans))
	if r.Run != nil && r.Run.ID != "" {
		s += " of run " + r.Run.ID
	}
	var parts []string
	if len(r.Shards) > 0 {
		parts = append(parts, fmt.Sprintf("shards %s (of %d)", joinInts(r.Shards), r.Run.Shards))
	}
	if len(r.Segments) > 1 {
		parts = append(parts, "segments "+joinInts(r.Segments))
	}
	if len(r.MissingShards) > 0 {
		parts = append(parts, "MISSING shards "+joinInts(r.MissingShards))
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, "; ")
	}
	return s
}

// TimeLine says how the result's time was spent when something was down: "active 41s, down
// 12s (1 gap: no load ran; rates are over the active time)" when no piece ran for a while, and
// "shard 2 down 14.2s (2 gaps)" for a shard that died and was resumed while the others ran
// on; "" when everything ran without a break.
func (r *Result) TimeLine() string {
	var parts []string
	if down := r.Downtime(); down > 0 {
		gaps := len(r.activeSpans()) - 1
		parts = append(parts, fmt.Sprintf("active %s, down %s (%s: no load ran; rates are over the active time)", FormatDuration(r.Active()),
			FormatDuration(down), plural(gaps, "gap")))
	}
	byShard := map[int][]Span{}
	for _, s := range r.spans() {
		byShard[s.Shard] = append(byShard[s.Shard], s)
	}
	if len(byShard) > 1 {
		shards := make([]int, 0, len(byShard))
		for sh := range byShard {
			shards = append(shards, sh)
		}
		slices.Sort(shards)
		for _, sh := range shards {
			// A shard's downtime: between its first start and last end, the time none of its
			// segments ran.
			u := union(byShard[sh])
			if down := u[len(u)-1].End.Sub(u[0].Start) - measure(u); down > 0 {
				parts = append(parts, fmt.Sprintf("shard %d down %s (%s)", sh, FormatDuration(down), plural(len(u)-1, "gap")))
			}
		}
	}
	return strings.Join(parts, "; ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
