package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/scenarios"
)

// CheckOptions is what `gatecrash check` was asked to do.
type CheckOptions struct {
	Files        []string
	Expect       []string
	AllowPartial bool
	// PointEstimate compares rates by the observed rate alone (Threshold.PointEstimate).
	PointEstimate bool
	Stdout        io.Writer
}

func newCheckCmd(runF func(context.Context, *CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{}
	cmd := &cobra.Command{
		Use:   "check RESULT... --expect 'KEY OP VALUE'...",
		Short: "Check thresholds on results (a merged soak, shards, a run's variants): exit 3 when one is not met",
		Long: `Check thresholds on each result, the gate at the end of a staging soak or a CI job:
every --expect is checked on every result, one line per verdict, and the exit code is 3
when any is not met (0 when all are).

KEY is an outcome class (502, no-response, ...), errors (every class but ok), or a latency
percentile of ok requests (p50, p90, p99, p99.9, max). OP is <, <=, >, >= or ==. VALUE is a
count (an integer), a rate (a number with a point or an exponent: 1e-6, 0.001) or, for
percentiles, a duration.

A rate threshold is judged by the rate's 95% interval, not by the rate seen: '502 < 1e-6'
is met only when the upper bound is below 1e-6 — zero 502s in 1,500 requests show only
"< 2.0e-03", so it is NOT MET, and the verdict says how many requests would show it (about
3 million without one). '> R' is met when the lower bound is above R. --point-estimate
compares the observed rate instead. A result with no requests meets no threshold.

A partial result (a checkpoint of a run that died) or a merge missing some shards does not
cover the whole run: it fails the check unless --allow-partial.`,
		Example: `  gatecrash check soak-all.json --expect 'errors == 0'
  gatecrash check merged.json --expect '502 < 1e-6' --expect 'no-response == 0' --expect 'p99 < 50ms'`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files, opts.Stdout = args, cmd.OutOrStdout()
			if len(opts.Expect) == 0 {
				return errext.UsageError(errors.New("--expect: missing; give at least one threshold, e.g. --expect 'errors == 0'"))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCheck(opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.Expect, "expect", nil, "threshold KEY OP VALUE, e.g. 'errors == 0', '502 < 1e-6', 'p99 < 50ms' (repeatable)")
	f.BoolVar(&opts.AllowPartial, "allow-partial", false, "let a partial result or a merge missing shards pass")
	f.BoolVar(&opts.PointEstimate, "point-estimate", false, "judge rate thresholds by the observed rate, not its 95% bound (a short clean run then passes '< 1e-6')")
	return cmd
}

func runCheck(opts *CheckOptions) error {
	var ths []scenarios.Threshold
	var errs []error
	for _, e := range opts.Expect {
		th, err := scenarios.ParseExpectation(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("--expect: %w", err))
			continue
		}
		th.PointEstimate = opts.PointEstimate
		ths = append(ths, th)
	}
	if err := errors.Join(errs...); err != nil {
		return errext.UsageError(err)
	}
	rs, err := readResults(opts.Files)
	if err != nil {
		return err
	}
	failed := 0
	for i, r := range rs {
		name := opts.Files[i]
		for _, v := range scenarios.CheckAll(name, r, ths) {
			fmt.Fprintln(opts.Stdout, v)
			if !v.Met {
				failed++
			}
		}
		var partial []string
		if r.Partial {
			partial = append(partial, "it is a checkpoint up to "+r.End.UTC().Format(time.RFC3339)+" of a run that went on or died")
		}
		if len(r.MissingShards) > 0 {
			partial = append(partial, fmt.Sprintf("shards %v of the run are missing from it", r.MissingShards))
		}
		for _, p := range partial {
			if opts.AllowPartial {
				fmt.Fprintf(opts.Stdout, "%s: partial — %s (allowed)\n", name, p)
				continue
			}
			fmt.Fprintf(opts.Stdout, "%s: partial — %s: NOT MET (the check covers part of the run; --allow-partial lets it pass)\n", name, p)
			failed++
		}
	}
	if failed > 0 {
		return errext.WithExitCode(fmt.Errorf("%d thresholds not met", failed), errext.ThresholdsNotMet)
	}
	return nil
}
