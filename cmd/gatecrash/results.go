package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/results"
)

// readResults reads result files; every bad file is reported, naming it and what is wrong.
func readResults(paths []string) ([]*results.Result, error) {
	var rs []*results.Result
	var errs []error
	for _, p := range paths {
		r, err := results.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs = append(rs, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errext.UsageError(err)
	}
	return rs, nil
}

func newReportCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "report RESULT... [--format text|markdown|json|html]",
		Short: "Print result files as a report (and compare them when there are several)",
		Example: `  gatecrash report gatecrash-runs/*/default.json
  gatecrash report runs/default.json runs/fixed.json --format markdown > incident.md
  gatecrash report runs/*.json --format html > report.html`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !contains(results.Formats(), format) {
				return errext.UsageError(fmt.Errorf("--format: %q is not allowed; allowed: %s", format, strings.Join(results.Formats(), ", ")))
			}
			rs, err := readResults(args)
			if err != nil {
				return err
			}
			return results.WriteReport(cmd.OutOrStdout(), rs, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", results.FormatText, "text, markdown, json or html")
	return cmd
}

func newCompareCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "compare RESULT RESULT...",
		Short: "Put results side by side with 95% intervals and say which differences are significant",
		Long: `Put results side by side: for every outcome class the rate with its 95% interval (Wilson;
exact Clopper-Pearson for fewer than 10 events; for none, the one-sided bound), latency
percentiles and their ratio to the first result, and for every pair and error class whether
the rates differ significantly (Fisher's exact test, p < 0.05).`,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := readResults(args)
			if err != nil {
				return err
			}
			return results.WriteComparison(cmd.OutOrStdout(), rs)
		},
	}
}

func newMergeCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge RESULT... --out FILE",
		Short: "Add shards of one run (several load machines) into one result",
		Long: `Add results of the same run measured by several load generators into one: counts summed,
latency histograms added, time series aligned by wall-clock time, exemplars kept up to the
bound. The shards must be of the same scenario, variant, method and pattern.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errext.UsageError(errors.New("--out: missing; give the file to write the merged result to"))
			}
			rs, err := readResults(args)
			if err != nil {
				return err
			}
			m, err := results.Merge(rs...)
			if err != nil {
				return errext.UsageError(err)
			}
			if err := m.WriteFile(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "merged %d results (%s requests) into %s\n", len(rs), results.FormatCount(m.Requests), out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "file to write the merged result to")
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
