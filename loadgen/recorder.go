package loadgen

import (
	"runtime"
	"sync"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// recorder collects outcomes in a few mutex-protected shards, so that workers rarely contend
// and memory does not grow with the number of connections: a latency histogram is ~190 KB, and
// one per class per connection would not do at thousands of connections.
type recorder struct {
	start  time.Time
	shards []shard
	gaps   *results.Gaps // the layout of the shards' gap buckets, nil when none
	// targets are a mixed load's requests (a targets file); nil for a load of one request.
	targets []Request
}

type shard struct {
	mu        sync.Mutex
	count     [results.NumClasses]int64
	hist      [results.NumClasses]*results.Histogram // allocated on a class's first request
	first     [results.NumClasses]time.Time
	last      [results.NumClasses]time.Time
	exemplars [results.NumClasses]results.ExemplarSet
	series    *results.TimeSeries
	gaps      *results.Gaps // nil unless the load sweeps gaps
	// oneConn: the sweep has one connection, so a request after an error is no reuse (it
	// goes apart: results.Gaps.AfterError)
	oneConn   bool
	perTarget [][results.NumClasses]int64 // by the attempt's req; nil unless the load mixes targets
	late      int64
	startLag  *results.Histogram // open loop only: allocated on its first late-or-not start
	opened    int64
	reused    int64
	aborted   int64
	discarded int64
	stale     [results.NumClasses]int64
	race      [results.NumClasses]int64
	_         [64]byte // keep shards' hot fields off each other's cache lines
}

func newRecorder(start time.Time) *recorder {
	n := 4 * runtime.GOMAXPROCS(0)
	r := &recorder{start: start, shards: make([]shard, n)}
	for i := range r.shards {
		r.shards[i].series = results.NewTimeSeries(start)
	}
	return r
}

// withGaps makes every shard count outcomes by idle gap, in layout's buckets; oneConn says
// the load has one connection (one request at a time).
func (r *recorder) withGaps(layout *results.Gaps, oneConn bool) {
	r.gaps = layout
	for i := range r.shards {
		r.shards[i].gaps = layout.NewGapsLike()
		r.shards[i].oneConn = oneConn
	}
}

// withTargets makes every shard count outcomes per target of a mixed load.
func (r *recorder) withTargets(ts []Request) {
	r.targets = ts
	for i := range r.shards {
		r.shards[i].perTarget = make([][results.NumClasses]int64, len(ts))
	}
}

func (r *recorder) shardFor(worker int) *shard { return &r.shards[worker%len(r.shards)] }

// record adds one finished request. Latency counts from the intended start.
func (s *shard) record(a *attempt) {
	lat := a.end.Sub(a.intended)
	s.mu.Lock()
	c := a.class
	s.count[c]++
	h := s.hist[c]
	if h == nil {
		h = results.NewHistogram()
		s.hist[c] = h
	}
	h.RecordDuration(lat)
	if s.first[c].IsZero() {
		s.first[c] = a.end
	}
	s.last[c] = a.end
	s.series.Add(a.end, c, 1)
	if s.perTarget != nil {
		s.perTarget[a.req][c]++
	}
	if s.gaps != nil && a.gap > 0 {
		if a.afterError && s.oneConn {
			s.gaps.AddAfterError(c)
		} else {
			s.gaps.Add(a.gap, c)
		}
	}
	if a.openLoop {
		lag := a.start.Sub(a.intended)
		if lag > results.LateThreshold {
			s.late++
		}
		if s.startLag == nil {
			s.startLag = results.NewHistogram()
		}
		s.startLag.RecordDuration(max(lag, 0))
	} else if a.start.Sub(a.intended) > results.LateThreshold {
		s.late++
	}
	s.countConnection(a)
	if c.IsError() {
		switch reuseOf(a) {
		case "stale":
			s.stale[c]++
		case "race":
			s.race[c]++
		}
		s.exemplars[c].Add(exemplarOf(a, lat))
	}
	s.mu.Unlock()
}

func exemplarOf(a *attempt, lat time.Duration) results.Exemplar {
	e := results.Exemplar{Time: a.end, Local: a.local, ConnID: a.connID, Reused: a.reused, Reuse: reuseOf(a),
		IdleMicros: a.idle.Microseconds(), BytesWritten: a.written, BytesRead: a.read, Status: a.status,
		LatencyUs: lat.Microseconds()}
	if a.err != nil {
		e.Error = a.err.Error()
	}
	return e
}

// abort counts a request that was in flight when an interrupted run gave up on it: it has no
// outcome, but the connection it opened was opened and is counted.
// reuseOf says how an error on a reused connection relates to the peer's close: "stale" when
// the close (or unsolicited bytes) was there before the request was written, whatever came of
// it; "race" when the connection ended under the request after it was written; "" otherwise
// (a fresh connection, a status such as 502 on a healthy one, or a platform that cannot look).
func reuseOf(a *attempt) string {
	switch {
	case !a.reused || a.looked == unknown || !a.class.IsError():
		return ""
	case a.looked == peerClosed:
		return "stale"
	case a.class.EndsConnection():
		return "race"
	}
	return ""
}

func (s *shard) abort(a *attempt) {
	s.mu.Lock()
	s.aborted++
	s.countConnection(a)
	s.mu.Unlock()
}

// countConnection counts how a finished or aborted request used connections: one it opened,
// one it reused, idle ones it discarded first. s.mu must be held.
func (s *shard) countConnection(a *attempt) {
	if a.fresh {
		s.opened++
	}
	if a.reused {
		s.reused++
	}
	s.discarded += int64(a.discarded)
}

// live returns the totals so far, for progress display.
func (r *recorder) live() (total int64, byClass [results.NumClasses]int64) {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for c, n := range s.count {
			byClass[c] += n
			total += n
		}
		s.mu.Unlock()
	}
	return total, byClass
}

// result merges the shards into a Result. Call it after every worker has stopped.
func (r *recorder) result() *results.Result {
	res := &results.Result{Schema: results.Schema, Start: r.start, Outcomes: map[results.Class]*results.Outcome{},
		TimeSeries: results.NewTimeSeries(r.start), Exemplars: map[results.Class][]results.Exemplar{}}
	for _, t := range r.targets {
		res.PerTarget = append(res.PerTarget, results.TargetOutcomes{Method: t.Method, URL: t.URL, Outcomes: map[results.Class]int64{}})
	}
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for c := range s.count {
			if s.count[c] == 0 {
				continue
			}
			cl := results.Class(c)
			o := res.Outcomes[cl]
			if o == nil {
				o = &results.Outcome{Latency: results.NewHistogram(), First: s.first[c], Last: s.last[c]}
				res.Outcomes[cl] = o
			}
			o.Count += s.count[c]
			o.Stale += s.stale[c]
			o.Race += s.race[c]
			o.Latency.Merge(s.hist[c].Histogram)
			if s.first[c].Before(o.First) {
				o.First = s.first[c]
			}
			if s.last[c].After(o.Last) {
				o.Last = s.last[c]
			}
			if cl.IsError() {
				res.Exemplars[cl] = results.MergeExemplars(res.Exemplars[cl], s.exemplars[c].List())
			}
			res.Requests += s.count[c]
		}
		res.TimeSeries.Merge(s.series)
		for i, counts := range s.perTarget {
			res.PerTarget[i].Add(counts[:])
		}
		if s.gaps != nil {
			if res.Gaps == nil {
				res.Gaps = r.gaps.NewGapsLike()
			}
			res.Gaps.Merge(s.gaps) // same layout: cannot fail
		}
		res.Late += s.late
		if s.startLag != nil {
			if res.StartLag == nil {
				res.StartLag = results.NewHistogram()
			}
			res.StartLag.Merge(s.startLag.Histogram)
		}
		res.Aborted += s.aborted
		res.Connections.Opened += s.opened
		res.Connections.ReusedRequests += s.reused
		res.Connections.StaleDiscarded += s.discarded
		s.mu.Unlock()
	}
	if len(res.Exemplars) == 0 {
		res.Exemplars = nil
	}
	return res
}
