package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

// synthetic builds results from a stream of (time, class, latency) events, as the load
// generator would record them, so a whole run and its halves can be compared.
type event struct {
	at    time.Duration
	class Class
	lat   time.Duration
}

func build(start time.Time, events []event) *Result {
	r := &Result{Schema: Schema, Scenario: "s", Variant: "v", Target: Target{Method: "POST", Pattern: "closed", Connections: 2},
		Start: start, End: start, Outcomes: map[Class]*Outcome{}, TimeSeries: NewTimeSeries(start)}
	sets := map[Class]*ExemplarSet{}
	for _, e := range events {
		t := start.Add(e.at)
		o := r.Outcomes[e.class]
		if o == nil {
			o = &Outcome{Latency: NewHistogram(), First: t, Last: t}
			r.Outcomes[e.class] = o
		}
		o.Count++
		o.Latency.RecordDuration(e.lat)
		if r.StartLag == nil {
			r.StartLag = NewHistogram()
		}
		r.StartLag.RecordDuration(e.lat / 10) // as if open loop: each start some lag late
		if t.Before(o.First) {
			o.First = t
		}
		if t.After(o.Last) {
			o.Last = t
		}
		if t.After(r.End) {
			r.End = t
		}
		r.Requests++
		r.TimeSeries.Add(t, e.class, 1)
		if e.class.IsError() {
			if sets[e.class] == nil {
				sets[e.class] = &ExemplarSet{}
			}
			sets[e.class].Add(Exemplar{Time: t, LatencyUs: e.lat.Microseconds()})
		}
	}
	if len(sets) > 0 {
		r.Exemplars = map[Class][]Exemplar{}
		for c, s := range sets {
			r.Exemplars[c] = s.List()
		}
	}
	return r
}

func TestMergingTwoHalvesEqualsTheWhole(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var all, a, b []event
	for i := 0; i < 20000; i++ {
		e := event{at: time.Duration(rng.Int64N(int64(90 * time.Second))), class: OK,
			lat: time.Duration(100+rng.IntN(50000)) * time.Microsecond}
		switch x := rng.IntN(1000); {
		case x < 3:
			e.class = Status502
		case x < 5:
			e.class = Reset
		}
		all = append(all, e)
	}
	// A run records requests as they finish, in time order.
	sort.Slice(all, func(i, j int) bool { return all[i].at < all[j].at })
	for i, e := range all {
		if i%2 == 0 { // the two load machines each sent every other request
			a = append(a, e)
		} else {
			b = append(b, e)
		}
	}
	whole, ha, hb := build(start, all), build(start, a), build(start, b)
	hb.Target.Connections = 0 // so the sum of connections matches the whole
	merged, err := Merge(ha, hb)
	if err != nil {
		t.Fatal(err)
	}
	for c, o := range whole.Outcomes {
		m := merged.Outcomes[c]
		if m == nil || m.Count != o.Count || !m.Latency.Equals(o.Latency.Histogram) || !m.First.Equal(o.First) || !m.Last.Equal(o.Last) {
			t.Fatalf("class %s: merged %+v, whole %+v", c, m, o)
		}
	}
	if merged.StartLag == nil || !merged.StartLag.Equals(whole.StartLag.Histogram) {
		t.Fatal("merged start lags are not the whole run's")
	}
	if merged.Requests != whole.Requests || !merged.Start.Equal(whole.Start) || !merged.End.Equal(whole.End) {
		t.Fatalf("merged %d requests %v..%v, whole %d %v..%v", merged.Requests, merged.Start, merged.End, whole.Requests, whole.Start, whole.End)
	}
	mj, _ := json.Marshal(merged.TimeSeries)
	wj, _ := json.Marshal(whole.TimeSeries)
	if !bytes.Equal(mj, wj) {
		t.Fatalf("time series differ:\n%s\n%s", mj, wj)
	}
	// Exemplars: the earliest and latest of the whole run survive the merge.
	for c, ex := range whole.Exemplars {
		m := merged.Exemplars[c]
		if len(m) != len(ex) || !m[0].Time.Equal(ex[0].Time) || !m[len(m)-1].Time.Equal(ex[len(ex)-1].Time) {
			t.Fatalf("%s exemplars: merged %d (%v..%v), whole %d", c, len(m), m[0].Time, m[len(m)-1].Time, len(ex))
		}
	}
}

func TestMergeAlignsShardsThatStartedApart(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	a := build(start, []event{{at: 5 * time.Second, class: OK, lat: time.Millisecond}})
	b := build(start.Add(3*time.Second), []event{{at: 2 * time.Second, class: OK, lat: time.Millisecond}})
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.TimeSeries.Buckets[5][OK] != 2 {
		t.Fatalf("both requests happened at 10:00:05 and belong in one bucket: %v", m.TimeSeries.Buckets)
	}
}

func TestMergeRefusesDifferentRuns(t *testing.T) {
	t.Parallel()
	start := time.Now()
	a := build(start, []event{{class: OK, lat: time.Millisecond}})
	b := build(start, []event{{class: OK, lat: time.Millisecond}})
	b.Variant = "other"
	if _, err := Merge(a, b); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("err = %v", err)
	}
	if _, err := Merge(); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("err = %v", err)
	}
}

func TestMergeSumsEveryOriginCounter(t *testing.T) {
	t.Parallel()
	start := time.Now()
	a := build(start, []event{{class: OK, lat: time.Millisecond}})
	b := build(start.Add(time.Second), []event{{class: Reset, lat: time.Millisecond}})
	a.Origin = &OriginTruth{OriginCounts: OriginCounts{ConnectionsAccepted: 1, TLSHandshakes: 2, TLSHandshakeErrors: 3, RequestsStarted: 4, RequestsRead: 5,
		ResponsesCompleted: 6, BadRequests: 7, Closes: OriginCloses{ServerFIN: 8, ServerRST: 9, PeerFIN: 10, PeerRST: 11},
		Faults: map[string]uint64{"idle-close": 12}}}
	b.Origin = &OriginTruth{OriginCounts: OriginCounts{ConnectionsAccepted: 100, TLSHandshakes: 200, TLSHandshakeErrors: 300, RequestsStarted: 400, RequestsRead: 500,
		ResponsesCompleted: 600, BadRequests: 700, Closes: OriginCloses{ServerFIN: 800, ServerRST: 900, PeerFIN: 1000, PeerRST: 1100},
		Faults: map[string]uint64{"idle-close": 1200, "rst-headers": 1300}}}
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := OriginTruth{OriginCounts: OriginCounts{ConnectionsAccepted: 101, TLSHandshakes: 202, TLSHandshakeErrors: 303, RequestsStarted: 404, RequestsRead: 505,
		ResponsesCompleted: 606, BadRequests: 707, Closes: OriginCloses{ServerFIN: 808, ServerRST: 909, PeerFIN: 1010, PeerRST: 1111},
		Faults: map[string]uint64{"idle-close": 1212, "rst-headers": 1300}}}
	got, _ := json.Marshal(m.Origin)
	exp, _ := json.Marshal(want)
	if !bytes.Equal(got, exp) {
		t.Fatalf("merged origin\n got %s\nwant %s", got, exp)
	}
	if a.Origin.RequestsStarted != 4 || a.Origin.Faults["idle-close"] != 12 {
		t.Fatalf("merge modified its input: %+v", a.Origin)
	}
	// One shard without ground truth: the sum would be a lie, so there is none.
	b.Origin = nil
	if m, err := Merge(a, b); err != nil || m.Origin != nil {
		t.Fatalf("merge with one shard lacking ground truth: origin %+v, err %v", m.Origin, err)
	}
}

func TestMergeRefusesDifferentTargetsAndDuplicates(t *testing.T) {
	t.Parallel()
	start := time.Now()
	a := build(start, []event{{class: OK, lat: time.Millisecond}, {class: Status502, lat: time.Millisecond}})
	a.Target.URL = "http://127.0.0.1:8080/"
	other := build(start.Add(time.Second), []event{{class: OK, lat: time.Millisecond}})
	other.Target.URL = "http://127.0.0.1:9090/"
	_, err := Merge(a, other)
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "http://127.0.0.1:9090/") || !strings.Contains(err.Error(), "--allow-different-targets") {
		t.Fatalf("different targets: err = %v, want a refusal naming both and the way around it", err)
	}
	if _, err := MergeWith(MergeOptions{AllowDifferentTargets: true}, a, other); err != nil {
		t.Fatalf("allowed different targets: %v", err)
	}
	_, err = Merge(a, a)
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "result 1 is the same result as result 0") {
		t.Fatalf("the same result twice: err = %v, want a refusal", err)
	}
	// Messages call the inputs by their files when told them.
	_, err = MergeWith(MergeOptions{Names: []string{"a.json", "b.json"}}, a, a)
	if err == nil || !strings.Contains(err.Error(), "b.json is the same result as a.json") {
		t.Fatalf("named inputs: err = %v, want the files named", err)
	}
	m, err := MergeWith(MergeOptions{AllowDuplicates: true}, a, a)
	if err != nil || m.Requests != 4 {
		t.Fatalf("allowed duplicates: %v requests, err %v", m.Requests, err)
	}
}

// Two variants of one scenario run share the run's id; merging them is a mistake to name as
// such (not as "segment 0 held twice"), by file.
func TestMergeRefusesTwoVariantsOfOneRun(t *testing.T) {
	t.Parallel()
	start := time.Now()
	def := build(start, []event{{class: OK, lat: time.Millisecond}})
	fixed := build(start, []event{{class: OK, lat: time.Millisecond}})
	def.Scenario, def.Variant, fixed.Scenario, fixed.Variant = "keepalive-race", "default", "keepalive-race", "fixed"
	def.Run = &RunInfo{ID: "r1"}
	fixed.Run = &RunInfo{ID: "r1"}
	_, err := MergeWith(MergeOptions{Names: []string{"run/default.json", "run/fixed.json"}}, def, fixed)
	want := "run/fixed.json is keepalive-race/fixed POST closed, run/default.json is keepalive-race/default POST closed"
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
}

// TestMergeSegments: results of one run (same run id) are its segments, one after the other:
// counts add up, connections are not summed (they did not run side by side), the whole is as
// finished as its last segment, and a segment held twice is refused whatever the options.
func TestMergeSegments(t *testing.T) {
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	seg := func(n int, at time.Duration, partial bool) *Result {
		r := build(start.Add(at), []event{{0, OK, time.Millisecond}, {time.Second, Status502, 2 * time.Millisecond}})
		r.Run, r.Partial = &RunInfo{ID: "run1", Segment: n, PlannedSeconds: Seconds(time.Hour)}, partial
		return r
	}
	s0, s1, s2 := seg(0, 0, true), seg(1, time.Minute, true), seg(2, 2*time.Minute, false)
	m, err := Merge(s1, s0, s2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 6 || m.Count(Status502) != 3 || m.Target.Connections != 2 {
		t.Fatalf("merged: %d requests, %d 502, %d connections", m.Requests, m.Count(Status502), m.Target.Connections)
	}
	if m.Partial || len(m.Segments) != 3 || m.Segments[0] != 0 || m.Segments[2] != 2 || m.Run.ID != "run1" {
		t.Fatalf("merged: partial %v, segments %v, run %+v", m.Partial, m.Segments, m.Run)
	}
	if part, _ := Merge(s0, s1); !part.Partial {
		t.Fatal("segments whose last is partial merged into a finished whole")
	}
	// The merged file holds segments 0-2: merging it with segment 1 again would count it twice.
	if _, err := MergeWith(MergeOptions{AllowDuplicates: true}, m, s1); err == nil || !strings.Contains(err.Error(), "both hold segment 1") {
		t.Fatalf("err = %v, want a refusal naming segment 1", err)
	}
	// Results of different runs are shards, as before: connections add up.
	other := seg(0, time.Millisecond, false) // another machine starts a moment apart
	other.Run.ID = "run2"
	sh, err := Merge(s0, other)
	if err != nil || sh.Target.Connections != 4 || sh.Segments != nil {
		t.Fatalf("shards of different runs: %v, %+v", err, sh)
	}
}

// TestRunInfoLeft: a resumed segment gets what is left of its run's plan, of either kind.
func TestRunInfoLeft(t *testing.T) {
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	seg0 := &Result{Start: start, End: start.Add(90 * time.Second), Requests: 900, Aborted: 3,
		Run: &RunInfo{ID: "x", PlannedSeconds: Seconds(5 * time.Minute), PlannedRequests: 1000}}
	next := NextSegment(seg0)
	d, n, done := next.Left()
	if next.Segment != 1 || d != 210*time.Second || n != 97 || done {
		t.Fatalf("after 90s and 903 requests of 5m/1000: segment %d, left %v and %d, done %v", next.Segment, d, n, done)
	}
	seg1 := &Result{Start: start, End: start.Add(10 * time.Second), Requests: 97, Run: &next}
	if _, _, done := NextSegment(seg1).Left(); !done {
		t.Fatal("all planned requests sent, yet something is left")
	}
}

// TestMergeShards: the shards of one run add up, connections summed; a missing shard is
// refused unless allowed (and then listed), a shard given twice is refused, and shards of
// different runs are refused.
func TestMergeShards(t *testing.T) {
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	shard := func(id string, i, n int) *Result {
		r := build(start.Add(time.Duration(i)*time.Millisecond), []event{{0, OK, time.Millisecond}, {time.Second, Status502, time.Millisecond}})
		r.Run = &RunInfo{ID: id, Shard: i, Shards: n}
		return r
	}
	a, b, c := shard("r", 0, 3), shard("r", 1, 3), shard("r", 2, 3)
	m, err := Merge(c, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 6 || m.Target.Connections != 6 || len(m.Shards) != 3 || m.MissingShards != nil {
		t.Fatalf("merged: %d requests, %d connections, shards %v, missing %v", m.Requests, m.Target.Connections, m.Shards, m.MissingShards)
	}
	if _, err := Merge(a, c); err == nil || !strings.Contains(err.Error(), "shard(s) [1] are missing") {
		t.Fatalf("missing shard: %v", err)
	}
	p, err := MergeWith(MergeOptions{AllowPartial: true}, a, c)
	if err != nil || len(p.MissingShards) != 1 || p.MissingShards[0] != 1 {
		t.Fatalf("--allow-partial: %v, missing %v", err, p.MissingShards)
	}
	if _, err := MergeWith(MergeOptions{AllowDuplicates: true}, a, b, c, b); err == nil || !strings.Contains(err.Error(), "shard 1/3, segment 0,") {
		t.Fatalf("shard given twice: %v", err)
	}
	// A merge given as an input holds its shards: merging it with one of them again is
	// refused (it was taken as shard 0 and s1 counted twice).
	ab, err := MergeWith(MergeOptions{AllowPartial: true}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(b, ab, c); err == nil || !strings.Contains(err.Error(), "both hold shard 1/3, segment 0,") {
		t.Fatalf("a shard and a merge holding it: %v", err)
	}
	if m2, err := Merge(ab, c); err != nil || m2.Requests != 6 || m2.Target.Connections != 6 || len(m2.MissingShards) != 0 {
		t.Fatalf("a partial merge and the missing shard: %v, %+v", err, m2)
	}
	// Results of different runs merged lose the run id, not their pieces: a part merged in
	// again is refused.
	x, y := build(start, []event{{0, OK, time.Millisecond}}), build(start.Add(time.Minute), []event{{0, OK, time.Millisecond}})
	x.Run, y.Run = &RunInfo{ID: "x"}, &RunInfo{ID: "y"}
	xy, err := Merge(x, y)
	if err != nil || xy.Run != nil {
		t.Fatalf("two runs: %v, run %+v", err, xy.Run)
	}
	if _, err := Merge(xy, x); err == nil || !strings.Contains(err.Error(), "both hold segment 0 of run x") {
		t.Fatalf("a merge of two runs and one of them again: %v", err)
	}
	if _, err := Merge(a, b, shard("other", 2, 3)); err == nil || !strings.Contains(err.Error(), "shards of different runs") {
		t.Fatalf("shards of two runs: %v", err)
	}
	// A shard's second segment adds its counts but not its connections again.
	b1 := shard("r", 1, 3)
	b1.Run.Segment = 1
	b1.Start, b1.End = b1.Start.Add(time.Hour), b1.End.Add(time.Hour)
	m2, err := Merge(a, b, c, b1)
	if err != nil || m2.Requests != 8 || m2.Target.Connections != 6 || len(m2.Segments) != 2 {
		t.Fatalf("shards with a resumed segment: %v, %+v", err, m2)
	}
}

// TestMergeOriginWindows: windows of one origin that overlap count once, from the earliest
// snapshot to the latest; windows of one origin apart in time (a shard killed, resumed later
// with nobody watching in between) count apart; another origin (a replica) adds up.
func TestMergeOriginWindows(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	cum := func(requests, faults uint64) *OriginCounts {
		return &OriginCounts{RequestsStarted: requests, Faults: map[string]uint64{"status": faults}}
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	// Origin A: counters 0 at 0 s, 100 at 10 s, 150 at 15 s, 300 at 30 s, 400 at 40 s.
	shard0 := Window("A", at(0), at(15), cum(0, 0), cum(150, 3))
	shard1 := Window("A", at(0), at(10), cum(0, 0), cum(100, 2))
	seg1 := Window("A", at(30), at(40), cum(300, 6), cum(400, 8)) // after a 15 s gap nobody watched
	replica := Window("B", at(0), at(40), cum(5, 0), cum(55, 1))
	m := MergeOrigins([]*OriginTruth{shard0, shard1, seg1, replica})
	// A: 150 (0..15 s, once) + 100 (30..40 s) ; B: 50.
	if m.RequestsStarted != 150+100+50 || m.Faults["status"] != 3+2+1 {
		t.Fatalf("merged requests %d faults %d, want 300 and 6", m.RequestsStarted, m.Faults["status"])
	}
	if len(m.Windows) != 3 {
		t.Fatalf("windows %+v, want A 0..15 s, A 30..40 s, B", m.Windows)
	}
	// Merging a merge again changes nothing: its windows are the union already.
	again := MergeOrigins([]*OriginTruth{m})
	if again.RequestsStarted != m.RequestsStarted || len(again.Windows) != 3 {
		t.Fatalf("re-merged: %d requests, %d windows", again.RequestsStarted, len(again.Windows))
	}
	// Events seen by two shards of one origin are kept once.
	ev := OriginEvent{Time: at(3), Conn: 7, Kind: "status"}
	shard0.Events, shard1.Events = []OriginEvent{ev}, []OriginEvent{ev, {Time: at(4), Conn: 8, Kind: "status"}}
	if m := MergeOrigins([]*OriginTruth{shard0, shard1}); len(m.Events) != 2 {
		t.Fatalf("events %+v, want 2", m.Events)
	}
}

// TestMergedSoakReportsDowntime: segment 0 ran 0..10 s, crashed, segment 1 ran 20..30 s. The
// merge's active time is 20 s and its downtime 10 s; its rate is over the active time (the
// downtime counted made a 1,000/s run read 564/s); every report format says it was merged and
// what was down; two shards side by side have no downtime.
func TestMergedSoakReportsDowntime(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var evs0, evs1 []event
	for i := range 100 {
		evs0 = append(evs0, event{at: time.Duration(i) * 100 * time.Millisecond, class: OK, lat: time.Millisecond})
		evs1 = append(evs1, event{at: time.Duration(i) * 100 * time.Millisecond, class: OK, lat: time.Millisecond})
	}
	s0, s1 := build(start, evs0), build(start.Add(20*time.Second), evs1)
	s0.End, s1.End = start.Add(10*time.Second), start.Add(30*time.Second)
	s0.Run = &RunInfo{ID: "soak", Segment: 0}
	s1.Run = &RunInfo{ID: "soak", Segment: 1}
	m, err := Merge(s0, s1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Active() != 20*time.Second || m.Downtime() != 10*time.Second || m.Achieved() != 10 {
		t.Fatalf("active %v, down %v, achieved %.2f/s; want 20s, 10s, 10/s", m.Active(), m.Downtime(), m.Achieved())
	}
	for _, f := range []string{"text", "markdown", "json", "html"} {
		var b bytes.Buffer
		if err := WriteReport(&b, []*Result{m}, f); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range map[string][]string{
			"text":     {"merged       from 2 pieces of run soak: segments 0, 1", "active 20.00s, down 10.00s (1 gap", "achieved 10.0/s"},
			"markdown": {"merged from 2 pieces", "active 20.00s, down 10.00s"},
			"json":     {`"active_seconds": 20`, `"downtime_seconds": 10`, `"merged_from": "merged from 2 pieces`},
			"html":     {"merged from 2 pieces", "active 20.00s, down 10.00s"},
		}[f] {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q:\n%.1500s", f, want, out)
			}
		}
	}
	// Merging the merge with nothing else keeps its pieces.
	if again, err := Merge(m); err != nil || again.Downtime() != 10*time.Second || len(again.Spans) != 2 {
		t.Fatalf("re-merge: %v, down %v, spans %d", err, again.Downtime(), len(again.Spans))
	}
	// Shards side by side: no downtime.
	a, b := build(start, evs0), build(start.Add(time.Second), evs1)
	a.End, b.End = start.Add(10*time.Second), start.Add(11*time.Second)
	if m, err := Merge(a, b); err != nil || m.Downtime() != 0 || m.Active() != 11*time.Second {
		t.Fatalf("shards: %v, active %v, down %v", err, m.Active(), m.Downtime())
	}
}

// TestMergePerTarget: shards of a mixed load add up per target (matched by method and URL);
// a result whose per-target counts do not add up to its outcomes is refused.
func TestMergePerTarget(t *testing.T) {
	t.Parallel()
	mk := func(ok, bad int64) *Result {
		r := sampleResult(t)
		r.Outcomes = map[Class]*Outcome{}
		for c, n := range map[Class]int64{OK: ok, Status502: bad} {
			o := &Outcome{Count: n, Latency: NewHistogram(), First: r.Start, Last: r.Start}
			for range n {
				o.Latency.RecordDuration(time.Millisecond)
			}
			r.Outcomes[c] = o
		}
		r.Requests = ok + bad
		r.PerTarget = []TargetOutcomes{
			{Method: "GET", URL: "http://p/a", Requests: ok, Outcomes: map[Class]int64{OK: ok}},
			{Method: "POST", URL: "http://p/b", Requests: bad, Outcomes: map[Class]int64{Status502: bad}},
		}
		return r
	}
	m, err := Merge(mk(10, 2), mk(5, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.PerTarget) != 2 || m.PerTarget[0].Requests != 15 || m.PerTarget[1].Outcomes[Status502] != 3 {
		t.Fatalf("merged per target: %+v", m.PerTarget)
	}
	// A file that names one request twice keeps them apart through a merge.
	dup := func(ok, bad int64) *Result {
		r := mk(ok, bad)
		r.PerTarget[1].Method, r.PerTarget[1].URL = "GET", "http://p/a"
		return r
	}
	m, err = Merge(dup(10, 2), dup(5, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.PerTarget) != 2 || m.PerTarget[0].Outcomes[OK] != 15 || m.PerTarget[1].Outcomes[Status502] != 3 {
		t.Fatalf("merged duplicate targets: %+v", m.PerTarget)
	}
	bad := mk(10, 2)
	bad.PerTarget[1].Outcomes[Status502] = 1
	bad.PerTarget[1].Requests = 1
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "the targets' add up to 11") {
		t.Fatalf("a result whose targets do not add up: %v", err)
	}
}
