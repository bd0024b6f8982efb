package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/internal/link"
	"github.com/gatecrash/gatecrash/internal/soak"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

// RunOptions says how to run a scenario.
type RunOptions struct {
	// Proxy overrides the scenario's proxy kind ("" keeps it).
	Proxy proxy.Kind
	// Binary overrides the proxy binary path.
	Binary string
	// Variants limits the run to these variants (empty: all).
	Variants []string
	// Duration overrides each variant's load duration (0 keeps it).
	Duration time.Duration
	// OutDir is the run folder; "" means ./gatecrash-runs/<time>-<scenario>.
	OutDir string
	// Observe, when set, is called with each variant's load progress while it runs (see
	// loadgen.WithObserver), the last time with Done set.
	Observe func(variant string, p loadgen.Progress)
	// Log receives a line as each variant starts and ends. Nil discards.
	Log io.Writer
	// CheckpointInterval is how often each variant's result so far — with the origin's
	// counters and the proxy's log counts — is written to its JSON in the run folder, marked
	// partial (0: only at the end).
	CheckpointInterval time.Duration
	// Version and Command are gatecrash's version and the command line, for the report's
	// header.
	Version, Command string
	// Hlog writes each variant's per-interval latency histograms to <variant>.hlog in the
	// run folder (HdrHistogram log format), every CheckpointInterval (soak.DefaultInterval
	// when that is 0).
	Hlog bool
	// Resume continues the run that a killed (or interrupted) gatecrash left in OutDir:
	// finished variants are kept, a variant whose result is partial or interrupted goes on
	// as its next segment (<variant>.segN.json) for what is left of its duration or
	// requests, and variants not started run as usual. Without Resume, a partial result in
	// OutDir is an error rather than overwritten.
	Resume bool
	// Watch, when set, is called as each variant's load starts, with functions that return
	// its result so far (as a checkpoint holds it; the final result once the variant has
	// ended) and its gauges: for live metrics.
	Watch func(variant string, run results.RunInfo, snapshot func() *results.Result, gauges func() loadgen.Gauges)
}

// Run is what a scenario run produced.
type Run struct {
	Scenario    *Scenario
	Proxy       proxy.Kind
	Dir         string
	Results     []*results.Result
	Verdicts    []Verdict
	Interrupted bool
	// Skipped are the variants that do not apply to the proxy, with why.
	Skipped []Skipped
}

// Skipped is a variant not run, and why.
type Skipped struct {
	Variant, Reason string
}

// ThresholdsMet reports whether every verdict was met.
func (r *Run) ThresholdsMet() bool {
	for _, v := range r.Verdicts {
		if !v.Met {
			return false
		}
	}
	return true
}

// Run runs every (selected) variant of sc in turn and checks the expectations. Each variant's
// result is written to the run folder as soon as it is measured, so an interrupted run keeps
// what it had. It returns after every origin and proxy it started has stopped.
func (sc *Scenario) Run(ctx context.Context, opts RunOptions) (*Run, error) {
	variants, err := sc.selectVariants(opts.Variants)
	if err != nil {
		return nil, err
	}
	kind := opts.Proxy
	if kind != "" && len(sc.Proxies) > 0 && !slices.Contains(sc.Proxies, kind) {
		return nil, fmt.Errorf("%w: scenario %s does not apply to proxy %s; it applies to %v", ErrSelection, sc.Name, kind, sc.Proxies)
	}
	// A variant that means nothing for this proxy is skipped (and said so), unless it was
	// asked for by name: then it is an error.
	var skipped []Skipped
	applicable := variants[:0:0]
	for _, v := range variants {
		k := kind
		if k == "" {
			k = v.Proxy.Kind
		}
		if err := sc.Applies(k, v); err != nil {
			if len(opts.Variants) > 0 {
				return nil, err
			}
			skipped = append(skipped, Skipped{Variant: v.Name, Reason: strings.TrimPrefix(err.Error(), ErrSelection.Error()+": ")})
			continue
		}
		applicable = append(applicable, v)
	}
	if len(applicable) == 0 {
		return nil, fmt.Errorf("%w: no variant of %s applies to proxy %s: %s", ErrSelection, sc.Name, kind, skipped[0].Reason)
	}
	variants = applicable
	dir := opts.OutDir
	if dir == "" {
		dir = filepath.Join("gatecrash-runs", time.Now().Format("20060102-150405")+"-"+sc.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: --out: creating run folder: %w", ErrSelection, err)
	}
	// The folder must take files before anything runs: a run must not end with nothing saved.
	if err := files.CheckFolder(dir, "--out"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSelection, err)
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	if opts.Resume && opts.OutDir == "" {
		return nil, fmt.Errorf("%w: --resume continues a run folder: give it with --out", ErrSelection)
	}
	runID, err := folderRunID(dir, variants)
	if err != nil {
		return nil, err
	}
	run := &Run{Scenario: sc, Dir: dir, Skipped: skipped}
	for _, sk := range skipped {
		fmt.Fprintf(logw, "variant %s: skipped: %s\n", sk.Variant, sk.Reason)
	}
	for _, v := range variants {
		v := *v
		// The proxy under test is the client-facing one; the rest of a chain is the
		// scenario's environment and keeps its kinds.
		if kind != "" {
			v.Proxy.Kind = kind
		}
		if opts.Binary != "" {
			v.Proxy.Binary = opts.Binary
		}
		run.Proxy = v.Proxy.Kind
		if opts.Duration > 0 {
			v.Load.Duration = yamlconf.Duration(opts.Duration)
		}
		seg, err := planVariant(dir, &v, runID, opts.Resume)
		if err != nil {
			return run, err
		}
		if seg.done != nil {
			fmt.Fprintf(logw, "variant %s: finished in the earlier run (segments %v), kept\n", v.Name, seg.done.Segments)
			run.Results = append(run.Results, seg.done)
			run.Verdicts = append(run.Verdicts, sc.Expect.Check(v.Name, seg.done)...)
			continue
		}
		if seg.info.Segment > 0 {
			fmt.Fprintf(logw, "variant %s: resuming as segment %d for the %s left, into %s\n", v.Name, seg.info.Segment, v.Load.Duration,
				filepath.Base(seg.json))
		} else {
			fmt.Fprintf(logw, "variant %s: %s proxy, %s load for %s\n", v.Name, v.Proxy.Kind, v.Load.Pattern, v.Load.Duration)
		}
		if names := ignoredVars(v.Proxy); len(names) > 0 {
			fmt.Fprintf(logw, "variant %s: note: %s does not read proxy.vars %s (set for other kinds): ignored\n",
				v.Name, v.Proxy.Kind, strings.Join(names, ", "))
		}
		res, err := runVariant(ctx, sc, &v, filepath.Join(dir, v.Name), opts, seg)
		if res != nil {
			// A failed variant's result still holds what was measured up to the failure.
			if werr := res.WriteFile(seg.json); werr != nil {
				return run, errors.Join(err, werr)
			}
			whole := res
			if len(seg.earlier) > 0 {
				// The variant's figures are its segments added up.
				m, merr := results.Merge(append(seg.earlier, res)...)
				if merr != nil {
					return run, errors.Join(err, fmt.Errorf("variant %s: adding up its segments: %w", v.Name, merr))
				}
				whole = m
			}
			run.Results = append(run.Results, whole)
		}
		if err != nil {
			return run, fmt.Errorf("variant %s: %w", v.Name, err)
		}
		if res.Interrupted {
			run.Interrupted = true
			break
		}
		run.Verdicts = append(run.Verdicts, sc.Expect.Check(v.Name, run.Results[len(run.Results)-1])...)
	}
	var md, page strings.Builder
	WriteComparison(&md, run, true)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return run, err
	}
	if len(run.Results) > 0 {
		hd := results.HTMLHeader{Title: sc.Name, Description: strings.TrimSpace(sc.Description), Proxy: string(run.Proxy),
			Version: opts.Version, Date: time.Now(), Command: opts.Command}
		for _, v := range run.Verdicts {
			hd.Verdicts = append(hd.Verdicts, results.HTMLVerdict{Text: v.String(), Met: v.Met})
		}
		if err := results.WriteHTMLWith(&page, run.Results, hd); err != nil {
			return run, err
		}
		if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte(page.String()), 0o644); err != nil {
			return run, err
		}
	}
	return run, nil
}

func (sc *Scenario) selectVariants(names []string) ([]*Variant, error) {
	if len(names) == 0 {
		return sc.Variants, nil
	}
	var out []*Variant
	for _, n := range names {
		i := slices.IndexFunc(sc.Variants, func(v *Variant) bool { return v.Name == n })
		if i < 0 {
			var all []string
			for _, v := range sc.Variants {
				all = append(all, v.Name)
			}
			return nil, fmt.Errorf("%w: scenario %s has no variant %q; it has: %s", ErrSelection, sc.Name, n, strings.Join(all, ", "))
		}
		out = append(out, sc.Variants[i])
	}
	return out, nil
}

// Testbed is what a variant runs against: its origin — the fault server on its listeners, a
// relay in front of an app, a real app server, or an address the user runs — the delayed
// links in front of it, and the proxy hops from the origin outward. Every part is watched
// under one errgroup: when one fails (the origin stops serving, a proxy exits), failed ends.
// gatecrash run (and so the matrix) and probe proxy start their parts with it.
type Testbed struct {
	origin      *faultserver.Server // nil for a real app server or an external origin: no counters
	originAddrs []string            // where the origin listens (behind any link)
	hops        []proxy.Proxy       // hop 0 is the one the load talks to; nil until started
	app         proxy.Proxy         // a real app server origin, or the one behind a relay
	g           *errgroup.Group
	failed      context.Context // ends when a part fails, or at stop
	cancel      context.CancelFunc
}

// TestbedOptions are the ways a caller can watch a testbed's parts.
type TestbedOptions struct {
	// Log receives the parts' notes (a leftover proxy found and stopped); nil discards.
	Log io.Writer
	// OriginListener wraps the fault server's listeners (to watch its connections).
	OriginListener func(net.Listener) net.Listener
}

// StartTestbed starts variant v's origin and hops, writing their configs and logs under dir.
// The parts outlive an interrupt of the caller's work (a load drains first), so their context
// is not ctx; ctx bounds their start. On an error, what had started is stopped.
func StartTestbed(ctx context.Context, v *Variant, dir string, o TestbedOptions) (_ *Testbed, err error) {
	log := o.Log
	parts, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(parts)
	specs := append([]proxy.Spec{v.Proxy}, v.Chain...)
	tb := &Testbed{hops: make([]proxy.Proxy, len(specs)), g: g, failed: gctx, cancel: cancel}
	defer func() {
		if err != nil {
			_, perr := tb.stop()
			err = errors.Join(err, perr)
		}
	}()
	var wrap []func(net.Listener) net.Listener
	if o.OriginListener != nil {
		wrap = append(wrap, o.OriginListener)
	}
	// The fault server, unless the origin is a real server.
	if v.Origin.Kind == OriginFaultServer || v.Origin.Kind == "" {
		if tb.origin, err = faultserver.New(v.Origin.Config); err != nil {
			return nil, err
		}
	}
	// startApp starts a real app server origin (or the one behind a relay) and watches it.
	startApp := func(kind, role string) (string, error) {
		listen, err := proxy.FreeListenAddr()
		if err == nil {
			tb.app, err = proxy.StartApp(ctx, proxy.AppConfig{Kind: proxy.AppKind(kind), Binary: v.Origin.Binary,
				Vars: v.Origin.Vars, Listen: listen, RunDir: filepath.Join(dir, "origin-"+kind), Log: log})
		}
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", role, kind, err)
		}
		app := tb.app
		g.Go(func() error {
			if err := app.Wait(gctx); err != nil {
				return fmt.Errorf("%s %s: %w", role, kind, err)
			}
			return nil
		})
		return app.URL(), nil
	}
	if v.Origin.Kind == OriginRelay {
		upstream := v.Origin.Upstream
		if v.Origin.App != "" {
			if upstream, err = startApp(v.Origin.App, "relay app"); err != nil {
				return nil, err
			}
		}
		up, err := faultserver.ParseUpstream(upstream, faultserver.UpstreamOptions{})
		if err != nil {
			return nil, err
		}
		if tb.origin, err = faultserver.New(v.Origin.Config, faultserver.WithUpstream(up)); err != nil {
			return nil, err
		}
	}

	var addrs []string
	switch {
	case tb.origin != nil:
		for i := range v.Origin.Replicas {
			addr := "127.0.0.1:0"
			if len(v.Origin.Listen) > i {
				addr = v.Origin.Listen[i]
			}
			bound, done, err := tb.origin.Listen(gctx, addr, v.Origin.TLS, wrap...)
			if err != nil {
				return nil, fmt.Errorf("origin listener: %w", err)
			}
			addrs = append(addrs, bound)
			g.Go(func() error {
				if err := <-done; err != nil {
					return fmt.Errorf("origin: %w", err)
				}
				return nil
			})
		}
	case v.Origin.Kind == OriginExternal:
		addrs = []string{v.Origin.Address}
	default:
		u, err := startApp(v.Origin.Kind, "origin")
		if err != nil {
			return nil, err
		}
		addrs = []string{strings.TrimPrefix(u, "http://")}
	}
	tb.originAddrs = slices.Clone(addrs)
	if l := v.Origin.Link; l != nil && l.Latency > 0 {
		// Each origin address gets a delayed link in front; the proxy talks to the link.
		for i, a := range addrs {
			r, err := link.Listen("127.0.0.1:0", a, *l)
			if err != nil {
				return nil, fmt.Errorf("origin link: %w", err)
			}
			addrs[i] = r.Addr()
			g.Go(func() error { return r.Serve(gctx) })
		}
	}

	// Start the hops from the origin outward: each points at the one after it.
	upstream, upstreamTLS := addrs, v.Origin.TLS
	for i := len(specs) - 1; i >= 0; i-- {
		hp, err := startHop(ctx, specs, i, upstream, upstreamTLS, dir, log)
		if err != nil {
			return nil, err
		}
		tb.hops[i] = hp
		name := string(specs[i].Kind)
		if len(specs) > 1 {
			name = fmt.Sprintf("hop %d (%s)", i+1, specs[i].Kind)
		}
		g.Go(func() error {
			if err := hp.Wait(gctx); err != nil {
				return fmt.Errorf("proxy %s: %w", name, err)
			}
			return nil
		})
		upstream, upstreamTLS = []string{strings.TrimPrefix(hp.URL(), "http://")}, false
	}
	return tb, nil
}

// URL is where the load goes: the first hop.
func (tb *Testbed) URL() string { return tb.hops[0].URL() }

// Origin is the fault server (a relay's too), or nil when the origin is a real server.
func (tb *Testbed) Origin() *faultserver.Server { return tb.origin }

// OriginAddrs are where the origin listens (a link in front is not counted).
func (tb *Testbed) OriginAddrs() []string { return tb.originAddrs }

// LogCounts counts the known upstream-error lines in every hop's logs.
func (tb *Testbed) LogCounts() (map[string]int64, error) { return proxyLogCounts(tb.hops) }

// Stop stops every part and returns what stopping failed with, joined with the first failure
// of a part while it ran.
func (tb *Testbed) Stop() error {
	stopErr, partErr := tb.stop()
	return errors.Join(stopErr, partErr)
}

// stop stops the proxies and the app, then the origin and the links, and returns what
// stopping failed with and the first failure of a part while it ran, if any.
func (tb *Testbed) stop() (stopErr, partErr error) {
	var errs []error
	for _, hp := range tb.hops {
		if hp != nil {
			errs = append(errs, hp.Stop())
		}
	}
	if tb.app != nil {
		errs = append(errs, tb.app.Stop())
	}
	tb.cancel()
	return errors.Join(errs...), tb.g.Wait()
}

// runVariant starts the variant's testbed, drives the load, stops the testbed, and returns
// the result with the origin's ground truth and the proxies' log counts in it. When a part
// fails while the load runs, the load stops, and the result — marked with the failure — is
// returned together with the error.
func runVariant(ctx context.Context, sc *Scenario, v *Variant, dir string, opts RunOptions, seg segment) (*results.Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tb, err := StartTestbed(ctx, v, dir, TestbedOptions{Log: opts.Log})
	if err != nil {
		return nil, err
	}
	var watch *faultserver.Watch
	if tb.origin != nil {
		// Readiness probes are not part of the run. A local origin's watch cannot fail.
		watch, _ = faultserver.StartWatch(ctx, faultserver.Local(tb.origin), "the in-process origin")
	}
	truth := func() *results.OriginTruth {
		if watch == nil {
			return nil
		}
		o, _ := watch.Truth(ctx)
		return o
	}

	// The load stops early when a part fails; a user's interrupt (ctx) stops it too.
	lctx, stopLoad := context.WithCancelCause(ctx)
	defer stopLoad(nil)
	unwatch := context.AfterFunc(tb.failed, func() { stopLoad(errPartFailed) })
	cfg := v.Load
	cfg.URL = tb.URL() + v.Path
	var lopts []loadgen.Option
	if opts.Observe != nil {
		lopts = append(lopts, loadgen.WithObserver(200*time.Millisecond, func(pr loadgen.Progress) { opts.Observe(v.Name, pr) }))
	}
	live := &loadgen.Live{}
	lopts = append(lopts, loadgen.WithLive(live), loadgen.WithRun(seg.info))
	if opts.Log != nil {
		lopts = append(lopts, loadgen.WithWarnings(func(msg string) { fmt.Fprintf(opts.Log, "variant %s: warning: %s\n", v.Name, msg) }))
	}
	// A snapshot is the load's result so far with what the origin and the proxies have
	// counted up to now: what a checkpoint holds, and what live metrics show.
	watched := &loadgen.Watched{Live: live, Add: func(r *results.Result) {
		r.Scenario, r.Variant = sc.Name, v.Name
		r.ProxyLog, _ = tb.LogCounts()
		r.Origin = truth()
	}}
	snapshot := watched.Snapshot
	if opts.Watch != nil {
		opts.Watch(v.Name, seg.info, snapshot, live.Gauges)
	}
	ko := soak.Options{Checkpoint: seg.json, Interval: opts.CheckpointInterval, Log: opts.Log}
	if opts.Hlog {
		// One interval log per variant: a resumed segment goes on with it, trimmed to the
		// last checkpoint of the segment before (as gatecrash load does).
		ko.Hlog = strings.TrimSuffix(segmentFile(filepath.Dir(seg.json), v.Name, 0), ".json") + ".hlog"
		if n := len(seg.earlier); n > 0 {
			ko.Resumes = seg.earlier[n-1]
		}
	}
	keep, err := soak.Start(ko, snapshot)
	if err != nil {
		stopLoad(nil)
		unwatch()
		_, perr := tb.stop()
		return nil, errors.Join(err, perr)
	}
	res, lerr := loadgen.Run(lctx, cfg, lopts...)
	unwatch()
	failed := errors.Is(context.Cause(lctx), errPartFailed)
	stopErr, partErr := tb.stop()
	if lerr != nil {
		keep.Finish(nil)
		return nil, errors.Join(lerr, partErr)
	}
	res.Scenario, res.Variant = sc.Name, v.Name
	if failed && partErr != nil {
		// The load saw a cancellation, but it was not the user's: say what happened.
		res.Interrupted = false
		res.Failure = partErr.Error()
	}
	var logErr error
	res.ProxyLog, logErr = tb.LogCounts()
	res.Origin = truth()
	if res.Gaps != nil {
		res.Gaps.Marks = raceMarks(v)
	}
	if tb.origin == nil {
		res.Notes = append(res.Notes, originNote(v.Origin))
	} else if l := v.Origin.Link; l != nil && l.Latency > 0 {
		res.Notes = append(res.Notes, "link to the origin: "+l.String())
	}
	if c := v.Origin.Config; tb.origin != nil && c != nil {
		for _, f := range c.Faults {
			if ic, ok := f.(*faultserver.IdleClose); ok {
				res.Notes = append(res.Notes, faultserver.IdleCloseFidelity(ic.Mode))
				break
			}
		}
	}
	watched.Finish(res)
	return res, errors.Join(partErr, stopErr, logErr, keep.Finish(res))
}

// raceMarks are the timeouts a gap sweep's race is between, as the variant sets them, for
// the race-window plot: the origin's idle timeout (the fault server's idle-close faults and
// its own idle timeout; an app server's keep-alive timeout, also behind a relay) and the
// proxies' idle windows and, for the hops of a chain, their client idle timeouts, where the
// variant sets them.
func raceMarks(v *Variant) []results.GapMark {
	var ms []results.GapMark
	add := func(d time.Duration, what string) {
		if m := (results.GapMark{At: results.Seconds(d), What: what}); d > 0 && !slices.Contains(ms, m) {
			ms = append(ms, m)
		}
	}
	if c := v.Origin.Config; c != nil && (v.Origin.Kind == OriginFaultServer || v.Origin.Kind == OriginRelay) {
		for _, f := range c.Faults {
			if ic, ok := f.(*faultserver.IdleClose); ok {
				add(ic.Timeout.D(), "origin idle timeout")
			}
		}
		add(c.Limits.IdleTimeout.D(), "origin idle timeout")
	}
	app := proxy.AppKind(v.Origin.Kind)
	if v.Origin.Kind == OriginRelay {
		app = proxy.AppKind(v.Origin.App)
	}
	if d, ok := proxy.AppIdleTimeout(app, v.Origin.Vars); ok {
		add(d, "origin idle timeout")
	}
	idle := func(vars map[string]string, name string) (time.Duration, bool) {
		d, err := yamlconf.ParseDuration(vars[name])
		return d, err == nil
	}
	if d, ok := idle(v.Proxy.Vars, "idle_timeout"); ok {
		add(d, "proxy idle window")
	}
	// In a chain every hop is a server to the one before it (its client idle timeout) and a
	// pool to the one after it (its idle window).
	for i, hop := range v.Chain {
		if d, ok := idle(hop.Vars, "client_idle_timeout"); ok {
			add(d, fmt.Sprintf("hop%d client idle timeout", i+1))
		}
		if d, ok := idle(hop.Vars, "idle_timeout"); ok {
			add(d, fmt.Sprintf("hop%d idle window", i+1))
		}
	}
	return ms
}

// originNote says what a result without the fault server's counters rests on.
func originNote(o Origin) string {
	what := "origin " + o.Kind + " (a real server gatecrash started"
	if o.Kind == OriginExternal {
		what = "origin external at " + o.Address + " (run by you"
	}
	s := what + "): the fault server's counters are not available; the outcomes are the client's and the proxy log's"
	if o.Link != nil && o.Link.Latency > 0 {
		s += "; link to the origin: " + o.Link.String()
	}
	return s
}

// proxyLogCounts counts the known error-log lines of every hop; with more than one hop the
// pattern names are prefixed with the hop ("hop2 upstream-reset").
func proxyLogCounts(hops []proxy.Proxy) (map[string]int64, error) {
	var out map[string]int64
	var errs []error
	for i, hp := range hops {
		if hp == nil {
			continue
		}
		counts, err := hp.LogCounts()
		errs = append(errs, err)
		if len(hops) == 1 {
			return counts, err
		}
		for name, n := range counts {
			if out == nil {
				out = map[string]int64{}
			}
			out[fmt.Sprintf("hop%d %s", i+1, name)] = n
		}
	}
	return out, errors.Join(errs...)
}

// errPartFailed is the cause of a load stopped because the origin or a proxy failed.
var errPartFailed = errors.New("a part of the run failed")

// startHop starts hop i of hops, pointed at upstream.
func startHop(ctx context.Context, hops []proxy.Spec, i int, upstream []string, upstreamTLS bool, dir string, log io.Writer) (proxy.Proxy, error) {
	listen, err := proxy.FreeListenAddr()
	if err != nil {
		return nil, err
	}
	hopDir := dir
	if len(hops) > 1 {
		hopDir = filepath.Join(dir, fmt.Sprintf("hop%d-%s", i+1, hops[i].Kind))
	}
	hp, err := proxy.Start(ctx, proxy.Config{Spec: hops[i], Origins: upstream, OriginTLS: upstreamTLS, Listen: listen, RunDir: hopDir, Log: log})
	if err != nil && len(hops) > 1 {
		err = fmt.Errorf("hop %d (%s): %w", i+1, hops[i].Kind, err)
	}
	return hp, err
}

// RenderProxy renders the config of variant's proxy as kind (the variant's own when ""),
// pointed at origins and listening on listen, for a proxy run elsewhere (a container, the
// staging proxy): dir and logDir are its temp and log folders as it will see them.
func (sc *Scenario) RenderProxy(variant string, kind proxy.Kind, origins []string, listen, dir, logDir string) (string, error) {
	vs, err := sc.selectVariants([]string{variant})
	if err != nil {
		return "", err
	}
	spec := vs[0].Proxy
	if kind != "" {
		spec.Kind = kind
	}
	return proxy.Render(proxy.Config{Spec: spec, Origins: origins, Listen: listen}, dir, logDir)
}

// ignoredVars are the proxy variables a built-in template of spec's kind does not read — a
// scenario may set variables for several kinds, and --proxy picks one — sorted.
func ignoredVars(spec proxy.Spec) []string {
	if spec.Template != "" || spec.Kind == proxy.External {
		return nil
	}
	var out []string
	for name := range spec.Vars {
		if !proxy.Reads(spec.Kind, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Variant returns a copy of the variant named name (the first when name is empty), with the
// client-facing proxy replaced by kind when kind is set; an error names the variants there are
// or says why the variant does not apply to kind.
func (sc *Scenario) Variant(name string, kind proxy.Kind) (*Variant, error) {
	var names []string
	if name != "" {
		names = []string{name}
	}
	vs, err := sc.selectVariants(names)
	if err != nil {
		return nil, err
	}
	v := *vs[0]
	if kind != "" {
		if len(sc.Proxies) > 0 && !slices.Contains(sc.Proxies, kind) {
			return nil, fmt.Errorf("%w: scenario %s does not apply to proxy %s; it applies to %v", ErrSelection, sc.Name, kind, sc.Proxies)
		}
		v.Proxy.Kind = kind
	}
	if err := sc.Applies(v.Proxy.Kind, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
