package loadgen

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// Live lets others read a running load's figures while it goes — checkpoints, interval
// histogram logs, metrics — without stopping it. Give one to Run with WithLive; its methods
// are safe from any goroutine, before, during and after the run.
type Live struct {
	mu     sync.Mutex
	snap   func() *results.Result // while the run goes
	gauges func() Gauges          // while the run goes
	final  *results.Result        // once Run has returned
}

// Gauges are the figures of the moment, which a result does not keep.
type Gauges struct {
	// InFlight counts requests started and not finished.
	InFlight int64
	// Behind counts open-loop requests whose intended start has passed but that have not
	// started, because every connection is busy: the target is falling behind the rate.
	Behind int64
}

// WithLive attaches l to the run.
func WithLive(l *Live) Option { return func(o *runOptions) { o.live = l } }

// Snapshot returns the result so far: counts and histograms up to now, End the time of the
// snapshot, and Partial set. Once Run has returned it returns Run's result (not marked
// partial); before the run has started, nil. Each call builds a new Result that the caller
// owns. A snapshot takes each recorder shard's lock in turn for the time it takes to copy it
// (tens of microseconds): cheap every second, not meant for every request.
func (l *Live) Snapshot() *results.Result {
	l.mu.Lock()
	snap, final := l.snap, l.final
	l.mu.Unlock()
	switch {
	case final != nil:
		return final
	case snap != nil:
		return snap()
	}
	return nil
}

// Gauges returns the figures of the moment; zero when no run is going.
func (l *Live) Gauges() Gauges {
	l.mu.Lock()
	g := l.gauges
	l.mu.Unlock()
	if g == nil {
		return Gauges{}
	}
	return g()
}

func (l *Live) attach(snap func() *results.Result, gauges func() Gauges) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.snap, l.gauges = snap, gauges
	l.mu.Unlock()
}

func (l *Live) finish(res *results.Result) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.snap, l.gauges, l.final = nil, nil, res
	l.mu.Unlock()
}

// snapshotOf builds a partial result from the recorder as it is now.
func snapshotOf(rec *recorder, target results.Target, p pacer) *results.Result {
	now := time.Now()
	res := rec.result()
	res.End = now
	res.Partial = true
	res.Target = target
	res.Unsent = p.behind(now)
	return res
}

// Watched is a load's result as those who watch a run see it — checkpoints, interval logs,
// metrics: the live snapshot with what only the caller knows added to it (the origin's
// ground truth, the proxies' log counts) and its errors paired with the origin's fault
// events; once the caller has finished the result (Finish), that result.
type Watched struct {
	Live *Live
	// Add fills in what the load does not know; nil adds nothing.
	Add   func(*results.Result)
	final atomic.Pointer[results.Result]
}

// Snapshot returns the result so far (nil before the load has started).
func (w *Watched) Snapshot() *results.Result {
	if r := w.final.Load(); r != nil {
		return r
	}
	r := w.Live.Snapshot()
	if r == nil {
		return nil
	}
	if w.Add != nil {
		w.Add(r)
	}
	r.PairExemplars()
	return r
}

// Finish pairs the final result's errors with the origin's events and makes it what
// Snapshot returns from now on. The caller has filled in what Add would.
func (w *Watched) Finish(r *results.Result) {
	r.PairExemplars()
	w.final.Store(r)
}
