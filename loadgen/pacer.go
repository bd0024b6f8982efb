package loadgen

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/internal/ctxwait"
	"github.com/gatecrash/gatecrash/results"
)

// Pace is an open-loop schedule as a pure function, after vegeta's Pacer: given the time since
// the start and the number of requests already released, it says how long until the next one
// is due (zero or negative: it is due now, or overdue) and whether the schedule is over. It
// reads no clock, so it is tested without one.
type Pace func(elapsed time.Duration, sent int64) (wait time.Duration, stop bool)

// ConstantPace is the schedule of the constant pattern: request i is due at i/rate, for those
// due before duration (0: no end) and at most max of them (0: no bound). A request due before
// the end is still released when the clock is read a little after the end.
func ConstantPace(rate float64, duration time.Duration, max int64) Pace {
	return arrivalPace(constantArrivals{perReq: float64(time.Second) / rate}, duration, max)
}

// arrivalPace is the pace of an open-loop schedule: request i is due at arr.at(i), for those
// due before duration (0: no end) and at most max of them (0: no bound).
func arrivalPace(arr arrivals, duration time.Duration, max int64) Pace {
	return func(elapsed time.Duration, sent int64) (time.Duration, bool) {
		due := arr.at(sent)
		if duration > 0 && due >= duration || max > 0 && sent >= max {
			return 0, true
		}
		return due - elapsed, false
	}
}

// dueAt is when request i of a constant schedule is due, perReq nanoseconds apart. It is
// computed from the exact interval, never summed from one truncated to whole nanoseconds:
// 1/30000 s truncated would release 1,080 extra requests over an hour, 36 ms early.
func dueAt(i int64, perReq float64) time.Duration {
	return time.Duration(math.Round(float64(i) * perReq))
}

// arrivals is an open-loop schedule: when each request is due, from the start.
type arrivals interface {
	// at is when request i is due; i is never below an earlier call's.
	at(i int64) time.Duration
	// before counts the requests due before t; by those due at or before t.
	before(t time.Duration) int64
	by(t time.Duration) int64
}

// constantArrivals are perReq nanoseconds apart.
type constantArrivals struct{ perReq float64 }

func (c constantArrivals) at(i int64) time.Duration { return dueAt(i, c.perReq) }
func (c constantArrivals) before(t time.Duration) int64 {
	return int64(math.Ceil(float64(t) / c.perReq))
}
func (c constantArrivals) by(t time.Duration) int64 { return int64(float64(t)/c.perReq) + 1 }

// poissonArrivals are a Poisson process: gaps exponential with mean perReq, drawn on demand
// from a seeded source. The times drawn and not yet issued are kept (a few at a time: the
// schedule issues each when it is due), so a run of any length holds constant memory.
type poissonArrivals struct {
	mu      sync.Mutex
	rng     *rand.Rand
	perReq  float64
	base    int64           // index of pending[0]
	pending []time.Duration // due times from request base on
	last    float64         // due time of the last drawn, exactly
}

func newPoissonArrivals(rate float64, seed uint64) *poissonArrivals {
	return &poissonArrivals{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), perReq: float64(time.Second) / rate}
}

// draw appends the next due time.
func (p *poissonArrivals) draw() {
	p.last += p.rng.ExpFloat64() * p.perReq
	p.pending = append(p.pending, time.Duration(math.Round(p.last)))
}

func (p *poissonArrivals) at(i int64) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.base+int64(len(p.pending)) <= i {
		p.draw()
	}
	if i > p.base { // the ones before i were issued: drop them
		p.pending = append(p.pending[:0], p.pending[i-p.base:]...)
		p.base = i
	}
	return p.pending[i-p.base]
}

// count counts the requests due before t (or at t, when at is set). Those before the first
// kept were issued already and are counted as due.
func (p *poissonArrivals) count(t time.Duration, at bool) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.pending) == 0 || p.pending[len(p.pending)-1] <= t {
		p.draw()
	}
	n, _ := slices.BinarySearch(p.pending, t)
	for at && n < len(p.pending) && p.pending[n] == t {
		n++
	}
	return p.base + int64(n)
}

func (p *poissonArrivals) before(t time.Duration) int64 { return p.count(t, false) }
func (p *poissonArrivals) by(t time.Duration) int64     { return p.count(t, true) }

// pacer decides when each worker (one per connection) sends its next request.
type pacer interface {
	// next blocks worker w until its next request may start and returns the request's
	// intended start time — zero for "as soon as it starts" (closed-loop patterns, where a
	// request is never late) — and ok false when w should stop.
	next(ctx context.Context, w int) (intended time.Time, ok bool)
	// done tells the pacer that worker w's request has finished.
	done(w int)
	// close is called after the workers have stopped; it waits for the pacer's own
	// goroutines and returns how many requests were due but never sent (open loop only).
	close() (unsent int64)
	// behind returns how many requests were due by now but have not started (open loop
	// only): what close would count as unsent if the run ended now.
	behind(now time.Time) int64
}

// budget bounds the number of requests a run sends (max 0: no bound).
type budget struct {
	max    int64
	issued atomic.Int64
}

func (b *budget) take() bool { return b.max == 0 || b.issued.Add(1) <= b.max }

// closedPacer: every worker sends back to back, waiting think between requests.
type closedPacer struct {
	think   time.Duration
	budget  *budget
	started []bool
}

func (p *closedPacer) next(ctx context.Context, w int) (time.Time, bool) {
	if p.started[w] && !ctxwait.Sleep(ctx, p.think) || ctx.Err() != nil || !p.budget.take() {
		return time.Time{}, false
	}
	p.started[w] = true
	return time.Time{}, true
}

func (p *closedPacer) done(int)               {}
func (p *closedPacer) behind(time.Time) int64 { return 0 }

func (p *closedPacer) close() int64 { return 0 }

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

func (p *gapSweepPacer) next(ctx context.Context, w int) (time.Time, bool) {
	n := p.n[w]
	if n > 0 && !ctxwait.Sleep(ctx, p.gap(w, n)) || ctx.Err() != nil || !p.budget.take() {
		return time.Time{}, false
	}
	p.n[w]++
	return time.Time{}, true
}

func (p *gapSweepPacer) done(int)               {}
func (p *gapSweepPacer) behind(time.Time) int64 { return 0 }

func (p *gapSweepPacer) close() int64 { return 0 }

// gapClockPacer: worker w's n-th request starts at start + n×period + an offset drawn
// uniformly from ± spread (worker w's own seeded stream), so the workers stay in step.
type gapClockPacer struct {
	start          time.Time
	period, spread time.Duration
	budget         *budget
	n              []int
	rng            []*rand.Rand
}

func newGapClock(start time.Time, period, spread time.Duration, workers int, seed uint64, b *budget) *gapClockPacer {
	p := &gapClockPacer{start: start, period: period, spread: spread, budget: b, n: make([]int, workers)}
	for w := range workers {
		p.rng = append(p.rng, rand.New(rand.NewPCG(seed, uint64(w))))
	}
	return p
}

// at returns when worker w's n-th request (n > 0) starts.
func (p *gapClockPacer) at(w, n int) time.Time {
	off := time.Duration(0)
	if p.spread > 0 {
		off = time.Duration(p.rng[w].Int64N(int64(2*p.spread)+1)) - p.spread
	}
	return p.start.Add(time.Duration(n)*p.period + off)
}

func (p *gapClockPacer) next(ctx context.Context, w int) (time.Time, bool) {
	n := p.n[w]
	if n > 0 && !ctxwait.Until(ctx, p.at(w, n)) || ctx.Err() != nil || !p.budget.take() {
		return time.Time{}, false
	}
	p.n[w]++
	return time.Time{}, true
}

func (p *gapClockPacer) done(int)               {}
func (p *gapClockPacer) behind(time.Time) int64 { return 0 }

func (p *gapClockPacer) close() int64 { return 0 }

// sleepTimer waits on a Go timer: what a scheduler without a waker does.
func sleepTimer(ctx context.Context, d time.Duration) bool { return ctxwait.Sleep(ctx, d) }

// constantPacer is open loop: a scheduler issues tickets at the intended times its Pace
// gives; any free worker takes the next one. When every worker is busy the tickets wait —
// their intended times do not move, so the waiting shows up as latency, and tickets still
// unissued at the end are counted as unsent.
type constantPacer struct {
	pace     Pace
	arr      arrivals      // when each request is due
	duration time.Duration // the run's duration (0: none)
	// interrupt ends scheduling at once (a signal). The duration is not waited on through a
	// context: the pace decides from each ticket's due time, so a timer that wakes a little
	// late still sends a request that was due before the end.
	interrupt context.Context
	budget    *budget
	tickets   chan time.Time
	start     time.Time
	issued    atomic.Int64 // tickets handed to the channel; written by schedule only
	dropped   atomic.Int64 // tickets a worker took after the end and did not send
	due       int64        // requests due when scheduling stopped; written by schedule only
	finished  chan struct{}
	// Sending stops at the end of the duration and LateThreshold of slack for a timer that
	// wakes late: a request not started by then is unsent. A target slower than the rate
	// must not stretch a 2 s run to a minute while the schedule is caught up. endTimer sets
	// ended and closes atEnd then (none without a duration); workers read the flag, not the
	// clock, for every request.
	endTimer *time.Timer
	ended    atomic.Bool
	atEnd    chan struct{}
	// waker sleeps the scheduler to the next due time (a timerfd on Linux; nil: Go timers).
	waker *waker
}

// newConstant starts the scheduler. ctx carries the run's deadline; interrupt is the context
// an interrupt cancels.
func newConstant(ctx, interrupt context.Context, arr arrivals, workers int, b *budget) *constantPacer {
	start := time.Now()
	var duration time.Duration
	if deadline, ok := ctx.Deadline(); ok {
		duration = deadline.Sub(start)
	}
	p := &constantPacer{pace: arrivalPace(arr, duration, b.max), arr: arr,
		duration: duration, interrupt: interrupt, budget: b, tickets: make(chan time.Time, workers), start: start,
		finished: make(chan struct{}), waker: newWaker(interrupt)}
	if duration > 0 {
		p.atEnd = make(chan struct{})
		p.endTimer = time.AfterFunc(time.Until(start.Add(duration+results.LateThreshold)), func() {
			p.ended.Store(true)
			close(p.atEnd)
		})
	}
	go p.schedule()
	return p
}

// over reports whether the time to start requests is over.
func (p *constantPacer) over() bool { return p.ended.Load() }

func (p *constantPacer) schedule() {
	defer close(p.finished)
	defer close(p.tickets)
	defer p.waker.close()
	for {
		wait, stop := p.pace(time.Since(p.start), p.issued.Load())
		if stop || p.over() {
			p.stop()
			return
		}
		if wait > 0 {
			p.waker.sleep(wait)
		}
		if p.interrupt.Err() != nil {
			p.stop()
			return
		}
		p.budget.take()
		select {
		case p.tickets <- p.start.Add(p.arr.at(p.issued.Load())):
			p.issued.Add(1)
		case <-p.atEnd: // a send blocked on busy workers gives up at the end (nil: no end)
			p.stop()
			return
		case <-p.interrupt.Done():
			p.stop()
			return
		}
	}
}

// stop records how many requests were due when scheduling stopped: those whose intended time
// came before the end of the duration, or before the interrupt, within the request budget.
func (p *constantPacer) stop() {
	end := time.Since(p.start)
	if p.duration > 0 && end > p.duration {
		end = p.duration
	}
	p.due = p.arr.before(end) // those due before end
	if p.budget.max > 0 {
		p.due = min(p.due, p.budget.max)
		if p.issued.Load() >= p.budget.max {
			p.due = p.budget.max // the request count ended the schedule
		}
	}
}

func (p *constantPacer) next(ctx context.Context, _ int) (time.Time, bool) {
	// At the end of the duration the scheduler stops and closes the queue; tickets already in
	// it were due before the end and are still sent. Only an interrupt stops at once.
	if errors.Is(ctx.Err(), context.Canceled) {
		return time.Time{}, false
	}
	t, ok := <-p.tickets
	if errors.Is(ctx.Err(), context.Canceled) {
		return time.Time{}, false // interrupted while waiting for the ticket
	}
	if ok && p.over() {
		// Taken after the end: it waited in the queue while every connection was busy, and
		// it is counted as unsent, not sent late past the end.
		p.dropped.Add(1)
		return time.Time{}, false
	}
	return t, ok
}

func (p *constantPacer) done(int) {}

// close returns how many requests were due when scheduling stopped but never started: not
// issued because every connection was busy, or issued and left in the queue.
func (p *constantPacer) close() int64 {
	<-p.finished
	if p.endTimer != nil {
		p.endTimer.Stop()
	}
	started := p.issued.Load() - int64(len(p.tickets)) - p.dropped.Load()
	return max(p.due-started, 0)
}

// behind counts requests overdue now — intended start more than results.LateThreshold ago
// (the timer that issues tickets may wake a little late), within the duration and the
// budget — that no worker has taken yet: not yet issued, or waiting in the queue.
func (p *constantPacer) behind(now time.Time) int64 {
	elapsed := now.Sub(p.start) - results.LateThreshold
	if elapsed < 0 {
		return 0
	}
	if p.duration > 0 && elapsed > p.duration {
		elapsed = p.duration
	}
	due := p.arr.by(elapsed)
	if p.budget.max > 0 {
		due = min(due, p.budget.max)
	}
	started := p.issued.Load() - int64(len(p.tickets)) - p.dropped.Load()
	return max(due-started, 0)
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
	opened   chan struct{} // closed when the next burst opens
}

func newBursts(ctx context.Context, size int, pause time.Duration, b *budget) *burstPacer {
	return &burstPacer{size: size, pause: pause, budget: b, ctx: ctx, left: size, opened: make(chan struct{})}
}

func (p *burstPacer) next(ctx context.Context, _ int) (time.Time, bool) {
	for {
		p.mu.Lock()
		if p.left > 0 {
			p.left--
			p.inflight++
			p.mu.Unlock()
			if !p.budget.take() {
				p.done(0)
				return time.Time{}, false
			}
			return time.Time{}, true
		}
		ch := p.opened
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, false
		}
	}
}

func (p *burstPacer) done(int) {
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
		ctxwait.Sleep(p.ctx, p.pause)
		// Everyone waiting for the next burst — since before the pause or during it — holds
		// the current p.opened; open the burst and wake them all.
		p.mu.Lock()
		p.left, p.pausing = p.size, false
		ch := p.opened
		p.opened = make(chan struct{})
		p.mu.Unlock()
		close(ch)
	}()
}

// close returns after the pause goroutines have exited (they end with ctx).
func (p *burstPacer) behind(time.Time) int64 { return 0 }

func (p *burstPacer) close() int64 {
	p.wg.Wait()
	return 0
}
