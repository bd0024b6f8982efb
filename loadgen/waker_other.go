//go:build !linux

package loadgen

import (
	"context"
	"time"
)

// waker is Linux's timerfd; elsewhere the scheduler sleeps on Go timers.
type waker struct{}

func newWaker() *waker { return nil }

func (w *waker) sleep(ctx context.Context, d time.Duration) bool { return sleepTimer(ctx, d) }

func (w *waker) close() {}
