package loadgen

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/gatecrash/gatecrash/results"
)

// progressInterval is how often the bar is refreshed.
const progressInterval = 200 * time.Millisecond

// startProgress shows a bar for the run when o asks for one: elapsed against the duration (or
// requests against the count), the current rate, and ok and error counts by class. The
// returned function stops it and waits for its goroutine.
func startProgress(o runOptions, cfg *Config, start time.Time, rec *recorder, finished <-chan struct{}) func() {
	if o.progress == nil {
		return func() {}
	}
	byTime := cfg.Duration > 0
	total := int64(cfg.Duration.D() / time.Millisecond)
	if !byTime {
		total = cfg.Requests
	}
	var status atomic.Pointer[string] // written here, read by mpb's render goroutine
	empty := ""
	status.Store(&empty)
	bar := o.progress.New(total, mpb.BarStyle().Lbound("[").Rbound("]"),
		mpb.PrependDecorators(decor.Name(o.label, decor.WCSyncSpaceR), decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return *status.Load() })),
		mpb.BarRemoveOnComplete(),
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		var prev int64
		prevAt := start
		for {
			select {
			case <-t.C:
			case <-stop:
				bar.Abort(true)
				bar.Wait()
				return
			}
			n, byClass := rec.live()
			now := time.Now()
			rate := float64(n-prev) / now.Sub(prevAt).Seconds()
			prev, prevAt = n, now
			st := formatStatus(rate, n, byClass)
			status.Store(&st)
			if byTime {
				bar.SetCurrent(min(int64(now.Sub(start)/time.Millisecond), total))
			} else {
				bar.SetCurrent(min(n, total))
			}
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

func formatStatus(rate float64, n int64, byClass [results.NumClasses]int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%8.0f req/s  %s requests  ok %s", rate, results.FormatCount(n), results.FormatCount(byClass[results.OK]))
	for c, k := range byClass {
		if k > 0 && results.Class(c).IsError() {
			fmt.Fprintf(&b, "  %s %s", results.Class(c), results.FormatCount(k))
		}
	}
	return b.String()
}
