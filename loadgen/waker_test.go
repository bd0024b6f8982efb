package loadgen

import (
	"context"
	"slices"
	"testing"
	"time"
)

// The waker sleeps at least as long as asked, and an ended context wakes it at once.
func TestWaker(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := newWaker(ctx)
	defer w.close()
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 3 * time.Millisecond} {
		start := time.Now()
		if !w.sleep(d) {
			t.Fatalf("sleep %s under a live context reported false", d)
		}
		if got := time.Since(start); got < d {
			t.Errorf("sleep %s returned after %s", d, got)
		}
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if w.sleep(time.Hour) || time.Since(start) > 5*time.Second {
		t.Errorf("a sleep of an hour, interrupted after 20 ms: returned after %s", time.Since(start))
	}
	if start := time.Now(); w.sleep(time.Hour) || time.Since(start) > time.Second {
		t.Errorf("a sleep after the context ended: returned after %s", time.Since(start))
	}
	// Sleeping allocates nothing: the scheduler sleeps once per request.
	w2 := newWaker(context.Background())
	defer w2.close()
	if n := testing.AllocsPerRun(100, func() { w2.sleep(time.Microsecond) }); n != 0 {
		t.Errorf("a sleep allocates %v times", n)
	}
}

// BenchmarkSleepPrecision is how late the open-loop scheduler wakes for a request due in
// 50 µs (the gap at 20,000 requests/s): the waker it uses, against a plain Go timer.
// Reported: the lateness's median and 99th percentile, in µs. No network.
func BenchmarkSleepPrecision(b *testing.B) {
	ctx := context.Background()
	w := newWaker(ctx)
	defer w.close()
	for _, bc := range []struct {
		name  string
		sleep func(time.Duration) bool
	}{
		{"waker", w.sleep},
		{"go-timer", func(d time.Duration) bool { return sleepTimer(ctx, d) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			late := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				bc.sleep(50 * time.Microsecond)
				late = append(late, time.Since(start)-50*time.Microsecond)
			}
			slices.Sort(late)
			b.ReportMetric(float64(late[len(late)/2].Microseconds()), "p50-late-µs")
			b.ReportMetric(float64(late[len(late)*99/100].Microseconds()), "p99-late-µs")
		})
	}
}
