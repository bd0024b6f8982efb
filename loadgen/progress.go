package loadgen

import (
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// Progress is a snapshot of a running load, handed to the observer given with WithObserver.
// It is plain data: how it is shown (a bar, a log line, a metric) is the caller's business.
type Progress struct {
	// Elapsed is the time since the run started; Duration the planned length (0: the run ends
	// after PlannedRequests).
	Elapsed, Duration time.Duration
	// Requests counts requests finished so far; PlannedRequests the planned count (0: none).
	Requests, PlannedRequests int64
	// Rate is requests finished per second over the last interval.
	Rate float64
	// ByClass counts requests finished so far by outcome class.
	ByClass [results.NumClasses]int64
	// Done is set on the last snapshot, sent once the run has ended.
	Done bool
}

// WithObserver calls fn with a snapshot every interval while the run goes, and once more with
// Done set after it ends. fn is called from one goroutine of Run's, never concurrently with
// itself, and Run returns only after the last call; fn should return quickly.
func WithObserver(interval time.Duration, fn func(Progress)) Option {
	return func(o *runOptions) { o.observe, o.interval = fn, interval }
}

// startObserver runs the observer when one was given; the returned function sends the final
// snapshot and waits for the goroutine.
func startObserver(o runOptions, cfg *Config, start time.Time, rec *recorder) func() {
	if o.observe == nil {
		return func() {}
	}
	interval := o.interval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		var prev int64
		prevAt := start
		for {
			final := false
			select {
			case <-t.C:
			case <-stop:
				final = true
			}
			n, byClass := rec.live()
			now := time.Now()
			p := Progress{Elapsed: now.Sub(start), Duration: cfg.Duration.D(), Requests: n, PlannedRequests: cfg.Requests,
				ByClass: byClass, Done: final}
			if d := now.Sub(prevAt).Seconds(); d > 0 {
				p.Rate = float64(n-prev) / d
			}
			prev, prevAt = n, now
			o.observe(p)
			if final {
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}
