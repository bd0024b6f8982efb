package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/faultserver/adminclient"
	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/probe"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/scenarios"
)

// HuntOptions is what `gatecrash hunt` was asked to do.
type HuntOptions struct {
	Scenario    string // a scenario name or file, or ""
	Variant     string
	Proxy       string
	URL         string
	OriginAdmin string
	Timeout     time.Duration
	Method      string
	Budget      time.Duration
	Precision   time.Duration
	Seed        uint64
	JSON        bool
	Out         string
	Force       bool
	Stdout      io.Writer
	Stderr      io.Writer
}

// huntKind is what a hunt's JSON file is, for --out's "is this ours" check.
var huntKind = files.Kind{Name: "hunt report", Looks: files.LooksLike("{", `"role": "hunt"`)}

func newHuntCmd() *cobra.Command {
	opts := &HuntOptions{}
	cmd := &cobra.Command{
		Use:   "hunt [SCENARIO] | --url URL --origin-admin ADMIN-URL",
		Short: "Find the idle gap at which a proxy's reused upstream connections fail, in seconds",
		Long: `Find the keep-alive race window: the idle gaps after which a proxy reuses an upstream
connection just as the origin closes it, and how often a request sent then fails.

One request at a time goes through the proxy on one client connection, so the proxy pools
one upstream connection and the wait between a response and the next request is how long
that connection sat idle. After each request the origin's counters (a gatecrash fault server
with an idle-close fault) say whether its idle timer had fired first, so the gap at which the
close wins is found by bisection without waiting for errors; then the hunt steps past it
until requests stop failing, and samples the window for its failure rate and its edges. It
never retries a request.

With SCENARIO (a built-in name or a file) the hunt starts the variant's fault server and
proxy itself (--variant, default the first; --proxy to put another kind in front). With
--url it goes through your proxy to a fault server you run (gatecrash serve --admin ADDR
--fault idle-close:timeout=5s), read through --origin-admin. Each request waits about the
origin's timeout, so a 5 s origin gives some 6 requests a minute: scale the timeouts down
(as the built-in scenarios do, 50 ms for 5 s) to hunt in seconds.

--out writes the report as JSON; gatecrash predict reads it like a gap sweep's result.`,
		Example: `  gatecrash hunt keepalive-race
  gatecrash hunt keepalive-race --proxy nginx --out hunt.json && gatecrash predict hunt.json --rate 50 --connections 1
  gatecrash hunt --url http://127.0.0.1:8080/ --origin-admin http://127.0.0.1:9901`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Scenario = args[0]
			}
			opts.Stdout, opts.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runHunt(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Variant, "variant", "", "the scenario's variant to hunt in (default: its first)")
	f.StringVar(&opts.Proxy, "proxy", "", "proxy kind in front of the scenario's origin instead of its own")
	f.StringVar(&opts.URL, "url", "", "your proxy's URL, when it forwards to a fault server you run (with --origin-admin)")
	f.StringVar(&opts.OriginAdmin, "origin-admin", "", "that fault server's admin URL (gatecrash serve --admin), e.g. http://127.0.0.1:9901")
	f.DurationVar(&opts.Timeout, "timeout", 0, "the origin's idle timeout (default: read from its idle-close fault)")
	f.StringVar(&opts.Method, "method", "", "request method (default: the scenario's, else POST, which proxies do not retry)")
	f.DurationVar(&opts.Budget, "budget", 30*time.Second, "longest time to send requests")
	f.DurationVar(&opts.Precision, "precision", 50*time.Microsecond, "how closely to locate the window's edges")
	f.Uint64Var(&opts.Seed, "seed", 0, "seed of the sampled gaps (0: random)")
	f.BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	f.StringVar(&opts.Out, "out", "", "also write the report as JSON to this file (for gatecrash predict)")
	f.BoolVar(&opts.Force, "force", false, "let --out replace a file that is not a hunt report")
	return cmd
}

func runHunt(ctx context.Context, opts *HuntOptions) error {
	var errs []error
	switch {
	case opts.Scenario != "" && (opts.URL != "" || opts.OriginAdmin != ""):
		errs = append(errs, errors.New("give a scenario or --url with --origin-admin, not both"))
	case opts.Scenario == "" && (opts.URL == "" || opts.OriginAdmin == ""):
		errs = append(errs, errors.New("give a scenario (e.g. gatecrash hunt keepalive-race), or --url and --origin-admin for your proxy and the fault server behind it"))
	case opts.Scenario == "" && (opts.Variant != "" || opts.Proxy != ""):
		errs = append(errs, errors.New("--variant and --proxy choose within a scenario; give one"))
	}
	if opts.Budget <= 0 {
		errs = append(errs, fmt.Errorf("--budget: %s is not allowed; give a positive duration, e.g. 30s", opts.Budget))
	}
	if opts.Precision < time.Microsecond {
		errs = append(errs, fmt.Errorf("--precision: %s is not allowed; give 1µs or more, e.g. 50us", opts.Precision))
	}
	if opts.Timeout < 0 {
		errs = append(errs, fmt.Errorf("--timeout: %s is not allowed; give a positive duration", opts.Timeout))
	}
	if opts.Out != "" {
		errs = append(errs, files.Check(opts.Out, "--out", huntKind, opts.Force))
	}
	if err := errors.Join(errs...); err != nil {
		return errext.UsageError(err)
	}
	ho := probe.HuntOptions{URL: opts.URL, Timeout: opts.Timeout, Method: opts.Method, Budget: opts.Budget,
		Precision: opts.Precision, Seed: opts.Seed, Log: opts.Stderr}
	if opts.Scenario != "" {
		stop, err := huntScenario(ctx, opts, &ho)
		if err != nil {
			return err
		}
		defer stop()
	} else {
		c, err := adminclient.New(opts.OriginAdmin)
		if err != nil {
			return errext.UsageError(fmt.Errorf("--origin-admin: %w", err))
		}
		ho.Origin, ho.OriginName = c, "at "+c.String()
		if ho.Timeout == 0 {
			plan, err := c.Plan(ctx)
			if err != nil {
				return fmt.Errorf("--origin-admin: reading the fault plan: %w", err)
			}
			if ho.Timeout, err = probe.IdleTimeout(plan); err != nil {
				return errext.UsageError(fmt.Errorf("--origin-admin %s: %w", opts.OriginAdmin, err))
			}
		}
	}
	rep, err := probe.Hunt(ctx, ho)
	if rep == nil {
		return err
	}
	if werr := writeProbe(opts.Stdout, rep, opts.JSON, rep.WriteText); werr != nil {
		return werr
	}
	if opts.Out != "" {
		b, merr := json.MarshalIndent(rep, "", "  ")
		if merr != nil {
			return merr
		}
		if werr := files.WriteAtomic(opts.Out, append(b, '\n'), 0o644); werr != nil {
			return fmt.Errorf("--out: %w", werr)
		}
	}
	if err != nil {
		return err
	}
	if rep.Interrupted {
		return errext.WithExitCode(errors.New("interrupted: the report above holds what was measured"), errext.Interrupted)
	}
	return nil
}

// huntScenario starts the scenario variant's origin and proxy for a hunt and fills in where
// it goes; stop ends them.
func huntScenario(ctx context.Context, opts *HuntOptions, ho *probe.HuntOptions) (stop func(), err error) {
	sc, err := scenarios.Load(opts.Scenario)
	if err != nil {
		return nil, errext.UsageError(err)
	}
	var kind proxy.Kind
	if opts.Proxy != "" {
		if kind, err = proxy.ParseKind(opts.Proxy); err != nil {
			return nil, errext.UsageError(fmt.Errorf("--proxy: %w", err))
		}
	}
	v, err := sc.Variant(opts.Variant, kind)
	if err != nil {
		return nil, errext.UsageError(err)
	}
	if v.Origin.Kind != scenarios.OriginFaultServer && v.Origin.Kind != "" || v.Origin.Config == nil {
		return nil, errext.UsageError(fmt.Errorf("scenario %s, variant %s: its origin is %s; a hunt needs gatecrash's fault server as the origin (its counters tell each request's fate)",
			sc.Name, v.Name, v.Origin.Kind))
	}
	if ho.Timeout == 0 {
		if ho.Timeout, err = probe.IdleTimeout(v.Origin.Config); err != nil {
			return nil, errext.UsageError(fmt.Errorf("scenario %s, variant %s: %w", sc.Name, v.Name, err))
		}
	}
	if ho.Method == "" {
		ho.Method = v.Load.Method
	}
	dir, err := os.MkdirTemp("", "gatecrash-hunt-")
	if err != nil {
		return nil, err
	}
	tb, err := scenarios.StartTestbed(ctx, v, dir, scenarios.TestbedOptions{Log: opts.Stderr})
	if err != nil {
		os.RemoveAll(dir)
		if errors.Is(err, proxy.ErrBinaryNotFound) || errors.Is(err, proxy.ErrNotReady) {
			return nil, errext.UsageError(err)
		}
		return nil, err
	}
	ho.URL = tb.URL() + v.Path
	ho.Origin, ho.OriginName = faultserver.Local(tb.Origin()), "fault server (in-process)"
	fmt.Fprintf(opts.Stderr, "scenario %s, variant %s: %s in front of the fault server\n", sc.Name, v.Name, v.Proxy.Kind)
	return func() {
		if err := tb.Stop(); err != nil {
			fmt.Fprintf(opts.Stderr, "stopping the testbed: %v\n", err)
		}
		os.RemoveAll(dir)
	}, nil
}
