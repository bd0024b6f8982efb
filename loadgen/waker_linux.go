package loadgen

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waker sleeps the open-loop scheduler until a request is due. On Linux it is a timerfd the
// runtime's netpoller waits on: the poller's epoll_wait returns when the timer expires, to
// the microsecond, where a Go timer due in 50 µs can fire up to a millisecond late (the
// netpoller sleeps in whole milliseconds when a timer is its only reason to wake). Waiting
// on it parks the goroutine, as a Go timer does, so no thread or core is held.
//
// A waker serves one context, for its whole life: its end fires the timer once (one
// context.AfterFunc, not one per sleep, so the scheduler allocates nothing per request).
type waker struct {
	ctx  context.Context
	f    *os.File
	fd   int
	buf  [8]byte
	stop func() bool
}

// newWaker returns a timerfd waker whose sleeps end when ctx does; when the system has no
// timerfd, one that sleeps on Go timers.
func newWaker(ctx context.Context) *waker {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return &waker{ctx: ctx}
	}
	w := &waker{ctx: ctx, f: os.NewFile(uintptr(fd), "timerfd"), fd: fd}
	w.stop = context.AfterFunc(ctx, func() { w.arm(0) })
	return w
}

// arm makes the timer expire after d (at once for d <= 0).
func (w *waker) arm(d time.Duration) error {
	d = max(d, time.Nanosecond)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	return unix.TimerfdSettime(w.fd, 0, &spec, nil)
}

// sleep waits d or until the waker's context ends; it reports whether d passed. A context
// that ends while the timer is armed for d re-arms it to fire at once; one that ended before
// is seen before arming.
func (w *waker) sleep(d time.Duration) bool {
	ctx := w.ctx
	if w.f == nil {
		return sleepTimer(ctx, d)
	}
	if d <= 0 || ctx.Err() != nil {
		return ctx.Err() == nil
	}
	if err := w.arm(d); err != nil {
		return sleepTimer(ctx, d)
	}
	for {
		_, err := w.f.Read(w.buf[:])
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			return true
		}
		if !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.EAGAIN) {
			return sleepTimer(ctx, d) // the timer failed: fall back, late rather than never
		}
	}
}

func (w *waker) close() {
	if w.f != nil {
		w.stop()
		w.f.Close()
	}
}
