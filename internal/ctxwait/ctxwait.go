// Package ctxwait waits for a time to pass unless a context ends first: the one timer loop
// the load generator's pacers, the probes and the link relay share.
package ctxwait

import (
	"context"
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
