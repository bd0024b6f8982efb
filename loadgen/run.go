package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// ErrInvalidConfig marks a Config that Validate rejected.
var ErrInvalidConfig = errors.New("invalid load configuration")

// Option configures injected plumbing of Run.
type Option func(*runOptions)

type runOptions struct {
	observe  func(Progress)
	interval time.Duration
	live     *Live
	run      *results.RunInfo
	warn     func(string)
}

// WithWarnings calls fn, once per resource, when the load machine runs out of something it
// needs to open connections (file descriptors, local ports); the notes are also in the
// result's Notes.
func WithWarnings(fn func(string)) Option { return func(o *runOptions) { o.warn = fn } }

// WithRun stamps every result of the run (snapshots and the final one) with run: its
// identity across the segments of a resumed soak.
func WithRun(run results.RunInfo) Option { return func(o *runOptions) { o.run = &run } }

// Run drives the load cfg describes until its duration or request count is reached, or ctx
// ends (an interrupt): then no new request starts, in-flight ones get cfg.Grace to finish, and
// whatever is still in flight is aborted and counted as such. Run returns after every
// goroutine it started has exited. The result covers every request that finished; it is
// marked Interrupted when ctx ended the run.
func Run(ctx context.Context, cfg Config, opts ...Option) (*results.Result, error) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	cl, err := newClient(&cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	cl.res.warn = o.warn

	start := time.Now()
	issueCtx, stopIssuing := context.WithCancel(ctx)
	defer stopIssuing()
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		issueCtx, cancel = context.WithDeadline(issueCtx, start.Add(cfg.Duration.D()))
		defer cancel()
	}
	b := &budget{max: cfg.Requests}
	nw := cfg.workers()
	var pacer pacer
	switch cfg.Pattern {
	case Closed:
		pacer = &closedPacer{think: cfg.ThinkTime.D(), budget: b, started: make([]bool, nw)}
	case GapSweep:
		if cfg.GapClock {
			if cfg.Seed == 0 {
				cfg.Seed = rand.Uint64() | 1
			}
			pacer = newGapClock(start, cfg.GapCenter.D(), cfg.GapSpread.D(), nw, cfg.Seed, b)
		} else {
			pacer = newGapSweep(cfg.GapCenter.D(), cfg.GapSpread.D(), cfg.GapStep.D(), nw, b)
		}
	case Constant:
		pacer = newConstant(issueCtx, ctx, constantArrivals{perReq: float64(time.Second) / cfg.Rate}, nw, b)
	case Poisson:
		if cfg.Seed == 0 {
			cfg.Seed = rand.Uint64() | 1
		}
		pacer = newConstant(issueCtx, ctx, newPoissonArrivals(cfg.Rate, cfg.Seed), nw, b)
	case Bursts:
		pacer = newBursts(issueCtx, cfg.BurstSize, cfg.BurstPause.D(), b)
	}

	rec := newRecorder(start)
	if len(cfg.Targets) > 0 {
		rec.withTargets(cfg.Targets)
	}
	if cfg.Pattern == GapSweep && !cfg.GapClock { // in step, a connection's own gap is not its upstream connection's
		rec.withGaps(results.GapBucketsFor(cfg.GapCenter.D(), cfg.GapSpread.D()), nw == 1)
	}
	workers := make([]*worker, nw)
	var h2 *h2Workers
	if cfg.HTTP2 {
		h2 = newH2Workers(&cfg)
		defer h2.close()
	}
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{id: i, client: cl, shard: rec.shardFor(i), h2: h2}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(issueCtx, pacer)
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()

	stopObserver := startObserver(o, &cfg, start, rec)
	target := targetOf(&cfg, cl)
	o.live.attach(func() *results.Result {
		r := snapshotOf(rec, target, pacer)
		r.Run = o.runInfo()
		r.Notes = append(cl.res.list(), patternNotes(&cfg)...)
		return r
	}, func() Gauges {
		var g Gauges
		for _, w := range workers {
			if w.busy.Load() {
				g.InFlight++
			}
		}
		g.Behind = pacer.behind(time.Now())
		return g
	})

	interrupted := false
	select {
	case <-finished:
	case <-ctx.Done():
		interrupted = true
		grace := time.NewTimer(cfg.Grace.D())
		select {
		case <-finished:
		case <-grace.C:
			for _, w := range workers {
				w.abort()
			}
			<-finished
		}
		grace.Stop()
	}
	stopIssuing()
	end := time.Now()
	unsent := pacer.close()
	stopObserver()

	res := rec.result()
	res.End = end
	res.Interrupted = interrupted
	res.Unsent = unsent
	res.Target = target
	res.Run = o.runInfo()
	res.Notes = append(cl.res.list(), patternNotes(&cfg)...)
	o.live.finish(res)
	return res, nil
}

// targetOf describes the load cfg asks for, for the result.
func targetOf(cfg *Config, cl *client) results.Target {
	t := results.Target{URL: cfg.URL, Method: cfg.Method, BodySize: cfg.BodySize, Pattern: string(cfg.Pattern),
		Connections: cfg.Connections, Rate: cfg.Rate, Timeout: results.Seconds(cfg.Timeout.D()), Client: cl.model.String()}
	if len(cfg.Targets) > 0 { // a mixed load: the first target's URL, and its method when all share it
		t.URL, t.Method, t.BodySize, t.Targets = cfg.Targets[0].URL, cfg.Targets[0].Method, 0, len(cfg.Targets)
		for _, r := range cfg.Targets {
			if r.Method != t.Method {
				t.Method = "mixed"
			}
		}
	}
	if cfg.HTTP2 {
		t.Protocol, t.Streams, t.Client = "h2c", max(1, cfg.Streams), ""
		if cl.t.https {
			t.Protocol = "h2"
		}
		return t
	}
	if !lookSupported {
		t.Client += " (unchecked: this platform cannot look at idle connections)"
	}
	return t
}

// worker owns one connection slot and sends requests on it as the pacer releases them.
type worker struct {
	id      int
	client  *client
	shard   *shard
	cur     atomic.Pointer[conn] // the connection in use, for abort
	h2      *h2Workers           // with HTTP/2: the connections the workers share
	h2cur   atomic.Pointer[h2conn]
	aborted atomic.Bool
	busy    atomic.Bool // a request is in flight (Live's gauges)
}

func (w *worker) loop(ctx context.Context, p pacer) {
	if w.h2 != nil {
		w.loopH2(ctx, p)
		return
	}
	var c *conn
	var lastEnd time.Time
	lastFailed := false
	defer func() {
		if c != nil {
			c.nc.Close()
		}
	}()
	for {
		intended, ok := p.next(ctx, w.id)
		if !ok {
			return
		}
		a := attempt{intended: intended, req: w.client.pick()}
		w.busy.Store(true)
		c = w.client.exchange(c, &a, w)
		w.busy.Store(false)
		if !lastEnd.IsZero() {
			a.gap = a.start.Sub(lastEnd)
		}
		a.afterError = lastFailed
		lastEnd, lastFailed = a.end, a.class.DropsUpstream()
		p.done(w.id)
		if w.aborted.Load() {
			w.shard.abort(&a)
			return
		}
		w.shard.record(&a)
	}
}

// abort ends the request in flight now: the connection's deadline is moved to the past.
func (w *worker) abort() {
	w.aborted.Store(true)
	if c := w.cur.Load(); c != nil {
		c.nc.SetDeadline(time.Unix(1, 0))
	}
	if c := w.h2cur.Load(); c != nil {
		c.nc.SetDeadline(time.Unix(1, 0))
	}
}

// runInfo returns a copy of the run's identity for one result, or nil.
func (o *runOptions) runInfo() *results.RunInfo {
	if o.run == nil {
		return nil
	}
	r := *o.run
	return &r
}

// patternNotes are what a result must say to be replayed: the seed of Poisson arrivals.
func patternNotes(cfg *Config) []string {
	if cfg.Pattern == Poisson {
		return []string{fmt.Sprintf("poisson arrivals, seed %d (seed: %d replays them)", cfg.Seed, cfg.Seed)}
	}
	if cfg.Pattern == GapSweep && cfg.GapClock {
		return []string{fmt.Sprintf("gap-sweep in step (gap-clock), offsets seed %d (seed: %d replays them)", cfg.Seed, cfg.Seed)}
	}
	return nil
}
