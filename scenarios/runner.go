package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vbauerster/mpb/v8"
	"golang.org/x/sync/errgroup"

	"github.com/gatecrash/gatecrash/faultserver"
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
	// Progress, when set, shows a bar per variant.
	Progress *mpb.Progress
	// Log receives a line as each variant starts and ends. Nil discards.
	Log io.Writer
}

// Run is what a scenario run produced.
type Run struct {
	Scenario    *Scenario
	Proxy       proxy.Kind
	Dir         string
	Results     []*results.Result
	Verdicts    []Verdict
	Interrupted bool
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
	dir := opts.OutDir
	if dir == "" {
		dir = filepath.Join("gatecrash-runs", time.Now().Format("20060102-150405")+"-"+sc.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating run folder: %w", err)
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	run := &Run{Scenario: sc, Dir: dir}
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
		fmt.Fprintf(logw, "variant %s: %s proxy, %s load for %s\n", v.Name, v.Proxy.Kind, v.Load.Pattern, v.Load.Duration)
		res, err := runVariant(ctx, sc, &v, filepath.Join(dir, v.Name), opts.Progress)
		if err != nil {
			return run, fmt.Errorf("variant %s: %w", v.Name, err)
		}
		if err := res.WriteFile(filepath.Join(dir, v.Name+".json")); err != nil {
			return run, err
		}
		run.Results = append(run.Results, res)
		if res.Interrupted {
			run.Interrupted = true
			break
		}
		run.Verdicts = append(run.Verdicts, sc.Expect.Check(v.Name, res)...)
	}
	var md, page strings.Builder
	WriteComparison(&md, run, true)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return run, err
	}
	if len(run.Results) > 0 {
		if err := results.WriteHTML(&page, run.Results); err != nil {
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

// runVariant starts the origin and the proxy, drives the load, stops both, and returns the
// result with the origin's ground truth and the proxy's log counts in it.
func runVariant(ctx context.Context, sc *Scenario, v *Variant, dir string, progress *mpb.Progress) (*results.Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	origin, err := faultserver.New(v.Origin.Config)
	if err != nil {
		return nil, err
	}
	octx, stopOrigin := context.WithCancel(context.Background()) // origin and proxy outlive an interrupt of the load
	g, _ := errgroup.WithContext(octx)
	var addrs []string
	for i := range v.Origin.Replicas {
		addr := "127.0.0.1:0"
		if len(v.Origin.Listen) > i {
			addr = v.Origin.Listen[i]
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			stopOrigin()
			g.Wait()
			return nil, fmt.Errorf("origin listener: %w", err)
		}
		addrs = append(addrs, ln.Addr().String())
		g.Go(func() error {
			if v.Origin.TLS {
				return origin.ServeTLS(octx, ln)
			}
			return origin.Serve(octx, ln)
		})
	}
	defer func() {
		stopOrigin()
		g.Wait()
	}()

	// Start the hops from the origin outward: each points at the one after it.
	hops := append([]proxy.Spec{v.Proxy}, v.Chain...)
	started := make([]proxy.Proxy, len(hops))
	stopAll := func() error {
		var errs []error
		for _, hp := range started {
			if hp != nil {
				errs = append(errs, hp.Stop())
			}
		}
		return errors.Join(errs...)
	}
	stopped := false
	defer func() {
		if !stopped {
			stopAll()
		}
	}()
	upstream, upstreamTLS := addrs, v.Origin.TLS
	for i := len(hops) - 1; i >= 0; i-- {
		listen, err := proxy.FreeListenAddr()
		if err != nil {
			return nil, err
		}
		hopDir := dir
		if len(hops) > 1 {
			hopDir = filepath.Join(dir, fmt.Sprintf("hop%d-%s", i+1, hops[i].Kind))
		}
		hp, err := proxy.Start(ctx, proxy.Config{Spec: hops[i], Origins: upstream, OriginTLS: upstreamTLS, Listen: listen, RunDir: hopDir})
		if err != nil {
			if len(hops) > 1 {
				err = fmt.Errorf("hop %d (%s): %w", i+1, hops[i].Kind, err)
			}
			return nil, err
		}
		started[i] = hp
		upstream, upstreamTLS = []string{strings.TrimPrefix(hp.URL(), "http://")}, false
	}
	p := started[0]
	before := origin.Stats() // readiness probes are not part of the run
	cfg := v.Load
	cfg.URL = p.URL() + v.Path
	var lopts []loadgen.Option
	if progress != nil {
		lopts = append(lopts, loadgen.WithProgress(progress, v.Name))
	}
	res, err := loadgen.Run(ctx, cfg, lopts...)
	if err != nil {
		return nil, err
	}
	stopErr := stopAll()
	stopped = true
	res.Scenario, res.Variant = sc.Name, v.Name
	var lerr error
	for i, hp := range started {
		counts, err := hp.LogCounts()
		lerr = errors.Join(lerr, err)
		if len(started) == 1 {
			res.ProxyLog = counts
			continue
		}
		for name, n := range counts {
			if res.ProxyLog == nil {
				res.ProxyLog = map[string]int64{}
			}
			res.ProxyLog[fmt.Sprintf("hop%d %s", i+1, name)] = n
		}
	}
	gt := origin.Stats().Sub(before)
	if b, err := json.Marshal(gt); err == nil {
		res.Origin = b
	}
	return res, errors.Join(stopErr, lerr)
}
