package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/metrics"
	"github.com/gatecrash/gatecrash/internal/soak"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
	"github.com/gatecrash/gatecrash/scenarios"
)

// applyExternal points every variant at a proxy of the user's own (--proxy-address) and
// fixes the fault server's listen addresses (--origin-listen), what a staging run otherwise
// needs a scenario file for.
func applyExternal(sc *scenarios.Scenario, opts *RunOptions) error {
	var errs []error
	if opts.ProxyAddress != "" {
		if _, _, err := net.SplitHostPort(opts.ProxyAddress); err != nil {
			errs = append(errs, fmt.Errorf("--proxy-address: %q is not HOST:PORT", opts.ProxyAddress))
		}
		switch opts.Proxy {
		case "", string(proxy.External):
			opts.Proxy = string(proxy.External)
		default:
			errs = append(errs, fmt.Errorf("--proxy-address: is for a proxy you run (--proxy external), not --proxy %s, which gatecrash starts", opts.Proxy))
		}
	}
	for _, a := range opts.OriginListen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("--origin-listen: %q is not HOST:PORT", a))
		}
	}
	if opts.OriginUpstream != "" {
		if _, err := faultserver.ParseUpstream(opts.OriginUpstream, faultserver.UpstreamOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("--origin-upstream: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, v := range sc.Variants {
		if opts.ProxyAddress != "" {
			v.Proxy.Address = opts.ProxyAddress
		}
		if opts.OriginUpstream != "" {
			if v.Origin.Kind != scenarios.OriginRelay {
				return fmt.Errorf("--origin-upstream: variant %s's origin is %s, not a relay (origin.kind relay)", v.Name, v.Origin.Kind)
			}
			v.Origin.Upstream, v.Origin.App, v.Origin.Vars, v.Origin.Binary = opts.OriginUpstream, "", nil, ""
		}
		if len(opts.OriginListen) > 0 {
			if v.Origin.Kind != "" && v.Origin.Kind != scenarios.OriginFaultServer && v.Origin.Kind != scenarios.OriginRelay {
				return fmt.Errorf("--origin-listen: variant %s's origin is %s, not gatecrash's fault server", v.Name, v.Origin.Kind)
			}
			v.Origin.Listen, v.Origin.Replicas = opts.OriginListen, len(opts.OriginListen)
		}
		if opts.Proxy == string(proxy.External) && v.Proxy.Address == "" {
			return fmt.Errorf("--proxy external: give --proxy-address HOST:PORT (where your proxy listens; point its upstream at "+
				"--origin-listen HOST:PORT), or proxy.address in the scenario (variant %s has none)", v.Name)
		}
	}
	return nil
}

// writeNext ends a run's output for the person reading it: what the results rest on (their
// notes, each once), the one difference that matters most, where the report is, and what to
// try next.
func writeNext(w io.Writer, run *scenarios.Run) {
	var notes []string
	for _, r := range run.Results {
		for _, n := range r.Notes {
			if !slices.Contains(notes, n) {
				notes = append(notes, n)
				fmt.Fprintf(w, "note:    %s\n", n)
			}
		}
	}
	// The verdict: the first significant difference in the variants' order (the first
	// variant against its first fix, as the scenario lists them) — not the smallest p, which
	// among several fixes that all removed the errors is a coin toss; with none significant,
	// the closest to it.
	var best *results.Difference
	for _, d := range results.Differences(run.Results) {
		if best == nil || d.Significant() && !best.Significant() || !best.Significant() && d.P < best.P {
			best = &d
		}
	}
	if best != nil {
		fmt.Fprintf(w, "verdict: %s\n", best)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "report.html")); err == nil {
		fmt.Fprintf(w, "report:  %s (open it in a browser; report.md pastes into a ticket)\n", filepath.Join(run.Dir, "report.html"))
	}
	if run.Proxy == proxy.Embedded {
		fmt.Fprintf(w, "next:    gatecrash run %s --proxy nginx   # the same against a real nginx (haproxy, caddy, apache, ...)\n", run.Scenario.Name)
	} else {
		fmt.Fprintf(w, "next:    gatecrash scenarios show %s > mine.yaml   # copy the scenario and point it at your own settings\n", run.Scenario.Name)
	}
}

// RunOptions is what `gatecrash run` was asked to do.
type RunOptions struct {
	Scenario string
	Proxy    string
	Binary   string
	Variants []string
	Duration time.Duration
	Out      string
	// CheckpointInterval is how often each variant's result so far is written (0: at the end).
	CheckpointInterval time.Duration
	// Hlog writes each variant's interval histogram log into the run folder.
	Hlog bool
	// MetricsListen is the address to serve Prometheus metrics on while the run goes ("": none).
	MetricsListen string
	// Resume continues the run a killed gatecrash left in Out.
	Resume bool
	// PointEstimate judges the scenario's rate thresholds by the observed rate alone.
	PointEstimate bool
	// ProxyAddress is where a proxy of your own listens (--proxy external); OriginListen the
	// fixed addresses the fault server listens on, where that proxy's upstream points.
	ProxyAddress string
	OriginListen []string
	// OriginUpstream is the app a relay origin forwards to, replacing the scenario's.
	OriginUpstream string
	Quiet          bool
	Progress       bool
	Stdout         io.Writer
	Stderr         io.Writer
}

func newRunCmd(runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{}
	cmd := &cobra.Command{
		Use:   "run SCENARIO|FILE [flags]",
		Short: "Run a scenario: origin, proxy under test and load, for every variant, and compare",
		Long: `Run a scenario (a built-in name from 'gatecrash scenarios list', or a YAML file): for each
variant, start the fault-injecting origin, start the proxy under test pointed at it, drive the
load, and collect the client's outcome classes, the origin's ground truth and the proxy's error
log. Then compare the variants side by side with 95% intervals and check the thresholds.

Everything goes to the run folder (--out, default ./gatecrash-runs/<time>-<scenario>/): one
result JSON per variant (rewritten every --checkpoint-interval while the variant runs, marked
partial, so a killed run keeps what it measured), one HdrHistogram interval log per variant
(<variant>.hlog), the rendered proxy configs and logs, and report.md. After a crash,
--resume with the same --out keeps the finished variants and goes on with the partial one as
its next segment (<variant>.seg1.json) for what is left of its duration.

Exit codes: 0 thresholds met; 2 invalid scenario or flags; 3 thresholds not met;
130 interrupted (what was measured is written).`,
		Example: `  gatecrash run keepalive-race
  gatecrash run keepalive-race --proxy nginx --duration 10s
  gatecrash run ./my-scenario.yaml --variant fixed --out runs/today`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scenario = args[0]
			opts.Stdout, opts.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if cmd.Flags().Changed("duration") && opts.Duration <= 0 {
				return errext.UsageError(fmt.Errorf("--duration: %s is not allowed; give a positive duration, or leave it out for the scenario's", opts.Duration))
			}
			if err := checkSoakFlags(cmd.Flags(), "run folder", opts.CheckpointInterval); err != nil {
				return errext.UsageError(err)
			}
			if opts.Out != "" {
				if st, err := os.Stat(opts.Out); err == nil && !st.IsDir() {
					return errext.UsageError(fmt.Errorf("--out: %s is a file; give a folder for the run (it is created when missing)", opts.Out))
				}
			}
			opts.Progress = !opts.Quiet && isTerminal(opts.Stderr)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runScenario(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Proxy, "proxy", "", "proxy kind: "+proxy.StartedNames()+", external (default: the scenario's)")
	f.StringVar(&opts.Binary, "proxy-binary", "", "path of the proxy binary (default: found on PATH)")
	f.StringArrayVar(&opts.Variants, "variant", nil, "run only this variant (repeatable)")
	f.DurationVar(&opts.Duration, "duration", 0, "load duration per variant (default: the scenario's)")
	f.StringVarP(&opts.Out, "out", "o", "", "run folder (default ./gatecrash-runs/<time>-<scenario>)")
	f.DurationVar(&opts.CheckpointInterval, "checkpoint-interval", soak.DefaultInterval,
		"rewrite each variant's result so far (marked partial) this often; 0: only at the end")
	f.BoolVar(&opts.Hlog, "hlog", true, "write each variant's per-interval latency histograms to <variant>.hlog")
	f.StringVar(&opts.MetricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics while the run goes, e.g. 127.0.0.1:9464")
	f.BoolVar(&opts.Resume, "resume", false, "continue the run a killed gatecrash left in --out: keep finished variants, go on with a partial one as its next segment")
	f.StringVar(&opts.ProxyAddress, "proxy-address", "", "where your own proxy listens, HOST:PORT (implies --proxy external): the load goes there")
	f.StringVar(&opts.OriginUpstream, "origin-upstream", "", "your app's URL, http://HOST:PORT, for a relay origin (origin.kind relay): replaces origin.upstream or origin.app")
	f.StringArrayVar(&opts.OriginListen, "origin-listen", nil, "fixed address for the fault server, HOST:PORT, where your proxy's upstream points (repeatable: one per upstream server)")
	f.BoolVar(&opts.PointEstimate, "point-estimate", false, "judge the scenario's rate thresholds by the observed rate, not its 95% bound")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bars")
	return cmd
}

func runScenario(ctx context.Context, opts *RunOptions) error {
	sc, err := scenarios.Load(opts.Scenario)
	if err != nil {
		return errext.UsageError(err)
	}
	if opts.PointEstimate {
		sc.Expect.UsePointEstimates()
	}
	if err := applyExternal(sc, opts); err != nil {
		return errext.UsageError(err)
	}
	ro := scenarios.RunOptions{Binary: opts.Binary, Variants: opts.Variants, Duration: opts.Duration, OutDir: opts.Out, Log: opts.Stderr,
		CheckpointInterval: opts.CheckpointInterval, Hlog: opts.Hlog, Resume: opts.Resume,
		Version: versionString(), Command: commandLine()}
	if opts.Proxy != "" {
		k, err := proxy.ParseKind(opts.Proxy)
		if err != nil {
			return errext.UsageError(fmt.Errorf("--proxy: %w", err))
		}
		ro.Proxy = k
	}
	if opts.MetricsListen != "" {
		reg := &metrics.Registry{Version: versionString(), Labels: map[string]string{"scenario": sc.Name}}
		ro.Watch = func(variant string, run results.RunInfo, snap func() *results.Result, gauges func() loadgen.Gauges) {
			reg.Set(metrics.Source{Scenario: sc.Name, Variant: variant, Run: run, Snapshot: snap, Gauges: gauges, Origin: true})
		}
		stop, err := serveMetrics(opts.MetricsListen, reg, opts.Stderr)
		if err != nil {
			return err
		}
		defer stop()
	}
	var bars *progressBars
	if opts.Progress {
		bars = newProgressBars(opts.Stderr)
		ro.Observe = bars.observe
	}
	run, err := sc.Run(ctx, ro)
	if bars != nil {
		bars.wait()
	}
	if run != nil && len(run.Results) > 0 {
		scenarios.WriteComparison(opts.Stdout, run, false)
		fmt.Fprintf(opts.Stdout, "\nresults in %s\n", run.Dir)
		writeNext(opts.Stdout, run)
	}
	switch {
	case err != nil && (errors.Is(err, proxy.ErrBinaryNotFound) || errors.Is(err, proxy.ErrUnknownKind) ||
		errors.Is(err, proxy.ErrNotReady) || errors.Is(err, scenarios.ErrSelection)):
		// A proxy that does not start is nearly always its binary or its config: the
		// message says which, and the exit code says "fix the input".
		return errext.UsageError(err)
	case err != nil:
		return err
	case run.Interrupted:
		return errInterrupted
	case !run.ThresholdsMet():
		return errext.WithExitCode(errors.New("thresholds not met"), errext.ThresholdsNotMet)
	}
	return nil
}
