// Package ctxwait waits for a time to pass unless a context ends first: the one timer loop
// the load generator's pacers, the probes and the link relay share.
package ctxwait

import (
	"context"
	"runtime"
	"time"
)

// Sleep waits for d or until ctx ends; it reports whether d passed (a d of zero or less
// returns at once: true unless ctx has ended).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Until waits until t or until ctx ends; it reports whether t was reached.
func Until(ctx context.Context, t time.Time) bool { return Sleep(ctx, time.Until(t)) }

// spinFor is how long before its deadline Exact stops sleeping and spins: longer than the
// runtime's timer granularity (its netpoller sleeps whole milliseconds).
const spinFor = 2 * time.Millisecond

// Exact waits until t to within a few microseconds, or until ctx ends; it reports whether t
// was reached. It sleeps until shortly before t and spins (yielding) the rest, so it costs up
// to spinFor of one core's time per call: for probes that time single requests, not for load.
func Exact(ctx context.Context, t time.Time) bool {
	if !Until(ctx, t.Add(-spinFor)) {
		return false
	}
	for time.Now().Before(t) {
		if ctx.Err() != nil {
			return false
		}
		runtime.Gosched()
	}
	return true
}
