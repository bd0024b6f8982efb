//go:build !linux

package loadgen

import (
	"context"
	"time"
)

// waker is Linux's timerfd; elsewhere the scheduler sleeps on Go timers.
type waker struct{ ctx context.Context }

func newWaker(ctx context.Context) *waker { return &waker{ctx: ctx} }

func (w *waker) sleep(d time.Duration) bool { return sleepTimer(w.ctx, d) }

func (w *waker) close() {}
