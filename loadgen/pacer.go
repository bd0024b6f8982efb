package loadgen

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Pacer decides when each worker (one per connection) sends its next request.
type Pacer interface {
	// Next blocks worker w until its next request may start and returns the request's
	// intended start time — zero for "as soon as it starts" (closed-loop patterns, where a
	// request is never late) — and ok false when w should stop.
	Next(ctx context.Context, w int) (intended time.Time, ok bool)
	// Done tells the pacer that worker w's request has finished.
	Done(w int)
}

// budget bounds the number of requests a run sends (max 0: no bound).
type budget struct {
	max    int64
	issued atomic.Int64
}

func (b *budget) take() bool { return b.max == 0 || b.issued.Add(1) <= b.max }

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
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

// closedPacer: every worker sends back to back, waiting think between requests.
type closedPacer struct {
	think   time.Duration
	budget  *budget
	started []bool
}

func (p *closedPacer) Next(ctx context.Context, w int) (time.Time, bool) {
	if p.started[w] && !sleep(ctx, p.think) || ctx.Err() != nil || !p.budget.take() {
		return time.Time{}, false
	}
	p.started[w] = true
	return time.Time{}, true
}

func (p *closedPacer) Done(int) {}

// gapSweepPacer: worker w waits gap(w, n) before its n-th request (n > 0), sweeping the gap
// across center ± spread in steps. Workers start at different phases, so together they cover
// the whole sweep at any time.
type gapSweepPacer struct {
	lo, step time.Duration
	steps    int
	workers  int
	budget   *budget
	n        []int
}

func newGapSweep(center, spread, step time.Duration, workers int, b *budget) *gapSweepPacer {
	steps := int(2*spread/step) + 1
	return &gapSweepPacer{lo: center - spread, step: step, steps: steps, workers: workers, budget: b, n: make([]int, workers)}
}

// gap returns the wait before worker w's n-th request.
func (p *gapSweepPacer) gap(w, n int) time.Duration {
	phase := w * p.steps / p.workers
	return p.lo + time.Duration((n-1+phase)%p.steps)*p.step
}

func (p *gapSweepPacer) Next(ctx context.Context, w int) (time.Time, bool) {
	n := p.n[w]
	if n > 0 && !sleep(ctx, p.gap(w, n)) || ctx.Err() != nil || !p.budget.take() {
		return time.Time{}, false
	}
	p.n[w]++
	return time.Time{}, true
}

func (p *gapSweepPacer) Done(int) {}

// constantPacer is open loop: a scheduler issues tickets at exact intended times
// (start + i/rate); any free worker takes the next one. When every worker is busy the
// tickets wait — their intended times do not move, so the waiting shows up as latency, and
// tickets still unissued at the end are counted as unsent.
type constantPacer struct {
	interval time.Duration
	deadline time.Time // end of the run's duration (zero: none)
	// interrupt ends scheduling at once (a signal). The duration is not waited on through a
	// context: each tick is checked against deadline, so a timer that wakes a little late still
	// sends a request that was due before the end.
	interrupt context.Context
	budget    *budget
	tickets   chan time.Time
	start     time.Time
	issued    int64 // tickets handed to the channel; written by schedule only
	due       int64 // requests due when scheduling stopped; written by schedule only
	done      chan struct{}
}

// newConstant starts the scheduler. ctx carries the run's deadline; interrupt is the context
// an interrupt cancels.
func newConstant(ctx, interrupt context.Context, rate float64, workers int, b *budget) *constantPacer {
	deadline, _ := ctx.Deadline()
	p := &constantPacer{interval: time.Duration(float64(time.Second) / rate), deadline: deadline, interrupt: interrupt,
		budget: b, tickets: make(chan time.Time, workers), start: time.Now(), done: make(chan struct{})}
	go p.schedule()
	return p
}

func (p *constantPacer) schedule() {
	defer close(p.done)
	defer close(p.tickets)
	for i := int64(0); ; i++ {
		t := p.start.Add(time.Duration(i) * p.interval)
		if !p.deadline.IsZero() && !t.Before(p.deadline) {
			p.stop()
			return
		}
		if d := time.Until(t); d > 0 {
			sleep(p.interrupt, d)
		}
		if p.interrupt.Err() != nil {
			p.stop()
			return
		}
		if !p.budget.take() {
			p.due = p.budget.max
			return
		}
		select {
		case p.tickets <- t:
			p.issued++
		case <-p.interrupt.Done():
			p.stop()
			return
		}
	}
}

// stop records how many requests were due when scheduling stopped: those whose intended time
// came before the end of the duration, or before the interrupt.
func (p *constantPacer) stop() {
	end := time.Now()
	if !p.deadline.IsZero() && end.After(p.deadline) {
		end = p.deadline
	}
	p.due = int64((end.Sub(p.start) + p.interval - 1) / p.interval)
	if p.budget.max > 0 {
		p.due = min(p.due, p.budget.max)
	}
}

func (p *constantPacer) Next(ctx context.Context, _ int) (time.Time, bool) {
	// At the end of the duration the scheduler stops and closes the queue; tickets already in
	// it were due before the end and are still sent. Only an interrupt stops at once.
	if errors.Is(ctx.Err(), context.Canceled) {
		return time.Time{}, false
	}
	t, ok := <-p.tickets
	if errors.Is(ctx.Err(), context.Canceled) {
		return time.Time{}, false // interrupted while waiting for the ticket
	}
	return t, ok
}

func (p *constantPacer) Done(int) {}

// unsent returns how many requests were due when scheduling stopped but never started:
// not issued because every connection was busy, or issued and left in the queue. Call it
// after the workers have stopped.
func (p *constantPacer) unsent() int64 {
	<-p.done
	started := p.issued - int64(len(p.tickets))
	return max(p.due-started, 0)
}

// burstPacer releases size requests, waits until all have finished, pauses, and repeats.
type burstPacer struct {
	size   int
	pause  time.Duration
	budget *budget
	ctx    context.Context
	wg     sync.WaitGroup

	mu       sync.Mutex
	left     int           // requests left in the current burst
	inflight int           // requests of the current burst not finished
	pausing  bool          // a pause is under way
	next     chan struct{} // closed when the next burst opens
}

func newBursts(ctx context.Context, size int, pause time.Duration, b *budget) *burstPacer {
	return &burstPacer{size: size, pause: pause, budget: b, ctx: ctx, left: size, next: make(chan struct{})}
}

func (p *burstPacer) Next(ctx context.Context, _ int) (time.Time, bool) {
	for {
		p.mu.Lock()
		if p.left > 0 {
			p.left--
			p.inflight++
			p.mu.Unlock()
			if !p.budget.take() {
				p.Done(0)
				return time.Time{}, false
			}
			return time.Time{}, true
		}
		ch := p.next
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, false
		}
	}
}

func (p *burstPacer) Done(int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	if p.left > 0 || p.inflight > 0 || p.pausing {
		return
	}
	p.pausing = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		sleep(p.ctx, p.pause)
		// Everyone waiting for the next burst — since before the pause or during it — holds
		// the current p.next; open the burst and wake them all.
		p.mu.Lock()
		p.left, p.pausing = p.size, false
		ch := p.next
		p.next = make(chan struct{})
		p.mu.Unlock()
		close(ch)
	}()
}

// wait returns after the pause goroutines have exited (they end with ctx).
func (p *burstPacer) wait() { p.wg.Wait() }
