package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/results"
)

// progressBars draws one live bar per load (a variant, or the whole `gatecrash load`) from
// the loadgen's progress snapshots: elapsed against the duration (or requests against the
// count), the current rate, and ok and error counts by class.
type progressBars struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*bar
}

type bar struct {
	b      *mpb.Bar
	status atomic.Pointer[string] // written by the observer, read by mpb's render goroutine
}

func newProgressBars(w io.Writer, opts ...mpb.ContainerOption) *progressBars {
	opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(200 * time.Millisecond)}, opts...)
	return &progressBars{p: mpb.New(opts...), bars: map[string]*bar{}}
}

// observe is a loadgen observer for the load labelled label.
func (pb *progressBars) observe(label string, p loadgen.Progress) {
	pb.mu.Lock()
	b := pb.bars[label]
	if b == nil {
		total := p.Duration.Milliseconds()
		if p.Duration == 0 {
			total = p.PlannedRequests
		}
		b = &bar{}
		empty := ""
		b.status.Store(&empty)
		b.b = pb.p.New(total, mpb.BarStyle().Lbound("[").Rbound("]"),
			mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR), decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return *b.status.Load() })),
			mpb.BarRemoveOnComplete(),
		)
		pb.bars[label] = b
	}
	pb.mu.Unlock()
	st := formatStatus(p.Rate, p.Requests, p.ByClass)
	b.status.Store(&st)
	if p.Duration > 0 {
		b.b.SetCurrent(min(p.Elapsed.Milliseconds(), p.Duration.Milliseconds()))
	} else {
		b.b.SetCurrent(min(p.Requests, p.PlannedRequests))
	}
	if p.Done {
		b.b.Abort(true)
	}
}

// wait returns after every bar has been drawn for the last time.
func (pb *progressBars) wait() { pb.p.Wait() }

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
