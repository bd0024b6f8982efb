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
type waker struct {
	f   *os.File
	fd  int
	buf [8]byte
}

// newWaker returns a timerfd waker, or nil when the system has none (the caller then sleeps
// on Go timers).
func newWaker() *waker {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &waker{f: os.NewFile(uintptr(fd), "timerfd"), fd: fd}
}

// arm makes the timer expire after d (at once for d <= 0).
func (w *waker) arm(d time.Duration) error {
	d = max(d, time.Nanosecond)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	return unix.TimerfdSettime(w.fd, 0, &spec, nil)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func (w *waker) sleep(ctx context.Context, d time.Duration) bool {
	if w == nil {
		return sleepTimer(ctx, d)
	}
	if d <= 0 {
		return ctx.Err() == nil
	}
	if err := w.arm(d); err != nil {
		return sleepTimer(ctx, d)
	}
	stop := context.AfterFunc(ctx, func() { w.arm(0) })
	defer stop()
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
	if w != nil {
		w.f.Close()
	}
}
