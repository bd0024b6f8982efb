package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/files"
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

// ReportOptions is what `gatecrash report` was asked to do.
type ReportOptions struct {
	Files  []string
	Format string
	Stdout io.Writer
}

func newReportCmd(runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{}
	cmd := &cobra.Command{
		Use:   "report RESULT... [--format text|markdown|json|html]",
		Short: "Print result files as a report (and compare them when there are several)",
		Example: `  gatecrash report gatecrash-runs/*/default.json
  gatecrash report runs/default.json runs/fixed.json --format markdown > incident.md
  gatecrash report runs/*.json --format html > report.html`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files, opts.Stdout = args, cmd.OutOrStdout()
			if !slices.Contains(results.Formats(), opts.Format) {
				return errext.UsageError(fmt.Errorf("--format: %q is not allowed; allowed: %s", opts.Format, strings.Join(results.Formats(), ", ")))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runReport(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", results.FormatText, "text, markdown, json or html")
	return cmd
}

func runReport(opts *ReportOptions) error {
	rs, err := readResults(opts.Files)
	if err != nil {
		return err
	}
	return results.WriteReport(opts.Stdout, rs, opts.Format)
}

// CompareOptions is what `gatecrash compare` was asked to do.
type CompareOptions struct {
	Files  []string
	Stdout io.Writer
}

func newCompareCmd(runF func(context.Context, *CompareOptions) error) *cobra.Command {
	opts := &CompareOptions{}
	return &cobra.Command{
		Use:   "compare RESULT RESULT...",
		Short: "Put results side by side with 95% intervals and say which differences are significant",
		Long: `Put results side by side: for every outcome class the rate with its 95% interval (Wilson;
exact Clopper-Pearson for fewer than 10 events; for none, the one-sided bound), latency
percentiles and their ratio to the first result, and for every pair and error class whether
the rates differ significantly (Fisher's exact test, p < 0.05).`,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files, opts.Stdout = args, cmd.OutOrStdout()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCompare(opts)
		},
	}
}

func runCompare(opts *CompareOptions) error {
	rs, err := readResults(opts.Files)
	if err != nil {
		return err
	}
	return results.WriteComparison(opts.Stdout, rs)
}

// MergeOptions is what `gatecrash merge` was asked to do.
type MergeOptions struct {
	Files    []string
	Out      string
	Merge    results.MergeOptions
	FromLogs bool
	// Force lets --out replace an existing file that is not a gatecrash result.
	Force  bool
	Stdin  io.Reader
	Stderr io.Writer
}

func newMergeCmd(runF func(context.Context, *MergeOptions) error) *cobra.Command {
	opts := &MergeOptions{}
	cmd := &cobra.Command{
		Use:   "merge RESULT... --out FILE",
		Short: "Add shards of one run (several load machines) into one result",
		Long: `Add results of the same run measured by several load generators into one: counts summed,
latency histograms added, time series aligned by wall-clock time, exemplars kept up to the
bound, the origin's ground truth counted once per origin (shards watching one fault server
side by side hold windows of its counters; their union is counted, not their sum), different
origins added up. The shards must be of the same scenario,
variant, target URL, method and pattern, and no file may be given twice (the flags below
relax the last two when you know why).`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files, opts.Stderr, opts.Stdin = args, cmd.ErrOrStderr(), cmd.InOrStdin()
			if opts.Out == "" {
				return errext.UsageError(errors.New("--out: missing; give the file to write the merged result to"))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runMerge(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Out, "out", "o", "", "file to write the merged result to")
	f.BoolVar(&opts.Merge.AllowDifferentTargets, "allow-different-targets", false, "merge shards that loaded different URLs")
	f.BoolVar(&opts.Merge.AllowDuplicates, "allow-duplicates", false, "merge shards that look like the same result given twice")
	f.BoolVar(&opts.FromLogs, "from-logs", false, "the arguments are logs (kubectl logs output, - for stdin) holding results printed by load --log-result")
	f.BoolVar(&opts.Force, "force", false, "let --out replace an existing file that is not a gatecrash result")
	f.BoolVar(&opts.Merge.AllowPartial, "allow-partial", false, "merge the shards of a run that are there when some are missing (the result lists them)")
	return cmd
}

func runMerge(opts *MergeOptions) error {
	if err := files.Check(opts.Out, "--out", results.FileKind, opts.Force); err != nil {
		return errext.UsageError(err)
	}
	var rs []*results.Result
	var err error
	mo := opts.Merge
	if opts.FromLogs {
		rs, mo.Names, err = readLogResults(opts.Files, opts.Stdin)
	} else {
		rs, err = readResults(opts.Files)
		mo.Names = opts.Files
	}
	if err != nil {
		return err
	}
	m, err := results.MergeWith(mo, rs...)
	if err != nil {
		return errext.UsageError(err)
	}
	if err := m.WriteFile(opts.Out); err != nil {
		return err
	}
	what := fmt.Sprintf("%d results", len(rs))
	if len(m.Segments) > 0 {
		segs := make([]string, len(m.Segments))
		for i, s := range m.Segments {
			segs[i] = fmt.Sprint(s)
		}
		what = fmt.Sprintf("segments %s of run %s", strings.Join(segs, ", "), m.Run.ID)
		if len(m.Shards) > 0 {
			what = fmt.Sprintf("shards %v of %d (segments %s) of run %s", m.Shards, m.Run.Shards, strings.Join(segs, ", "), m.Run.ID)
		}
		if len(m.MissingShards) > 0 {
			what += fmt.Sprintf(" — MISSING shards %v: the counts undercount the run", m.MissingShards)
		}
		if m.Partial {
			what += " (the last one is partial: the run died and was not resumed to its end)"
		}
	}
	fmt.Fprintf(opts.Stderr, "merged %s (%s requests) into %s\n", what, results.FormatCount(m.Requests), opts.Out)
	return nil
}

// readLogResults reads the result blocks in log files ("-": stdin).
func readLogResults(logs []string, stdin io.Reader) ([]*results.Result, []string, error) {
	var out []*results.Result
	var names []string // "LOG (result block K)", for merge's messages
	for _, f := range logs {
		name := "stdin"
		if f != files.Stdin {
			name = f
		}
		rd, err := files.Open(f, "--from-logs", stdin)
		if err != nil {
			return nil, nil, errext.UsageError(err)
		}
		defer rd.Close()
		rs, err := results.ReadLogBlocks(rd, name)
		if err != nil {
			return nil, nil, errext.UsageError(err)
		}
		if len(rs) == 0 {
			return nil, nil, errext.UsageError(fmt.Errorf("--from-logs: %s holds no complete result block (was the load run with --log-result, and did it finish?)", name))
		}
		out = append(out, rs...)
		for k := range rs {
			names = append(names, fmt.Sprintf("%s (result block %d)", name, k+1))
		}
	}
	return out, names, nil
}
