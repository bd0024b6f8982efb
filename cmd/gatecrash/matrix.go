package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/matrix"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/scenarios"
)

func newMatrixCmd() *cobra.Command {
	var (
		kinds, names []string
		budget       time.Duration
		out, pins    string
		onlyPinned   bool
		parallel     int
		rerender     string
	)
	cmd := &cobra.Command{
		Use:   "matrix [flags]",
		Short: "Run the built-in failure scenarios against every installed proxy and tabulate what each does",
		Long: `Run each built-in failure scenario (` + strings.Join(matrix.Scenarios, ", ") + `), every
variant, against each installed proxy, for at most --budget each, and write the conformance
matrix: per cell the client-visible outcome classes with counts and 95% intervals, what the
proxy absorbed (retried), its most frequent error-log line, the time to the first error, and
whether the scenario's fix removed it. A variant that does not apply to a proxy (a setting it
does not have, a unit it cannot express) is n/a with the reason; a proxy not installed is
listed as skipped with the package to install.

Writes conformance.md, conformance.json and conformance.html (with race-window plots) into
--out, and each cell's run folder under it. With --check PINS.yaml, exits 3 when a pinned cell
differs from what was measured (--only-pinned runs just those cells: CI's check).`,
		Example: `  gatecrash matrix
  gatecrash matrix --proxies nginx,haproxy --scenarios forced-race --budget 3s
  gatecrash matrix --check docs/conformance-pins.yaml --only-pinned --budget 2s`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rerender != "" {
				m, err := matrix.Rerender(rerender)
				if err != nil {
					return err
				}
				if err := writeMatrix(m, rerender); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rewrote %s from its cells' results\n", filepath.Join(rerender, "conformance.{md,json,html}"))
				return nil
			}
			if budget <= 0 {
				return errext.UsageError(fmt.Errorf("--budget: %s is not allowed; give a positive duration, e.g. 10s", budget))
			}
			if pins != "" && !cmd.Flags().Changed("parallel") {
				parallel = 1 // a gate: the pinned cells measured as they were pinned, one at a time
			}
			if parallel < 0 {
				return errext.UsageError(fmt.Errorf("--parallel: %d is not allowed; give the number of cells to run at once, or 0 for two per CPU", parallel))
			}
			opts := matrix.Options{Budget: budget, OutDir: out, Log: cmd.ErrOrStderr(), Version: versionString(),
				Command: commandLine(), Parallel: parallel}
			for _, k := range kinds {
				kind, err := proxy.ParseKind(k)
				if err != nil || kind == proxy.External {
					return errext.UsageError(fmt.Errorf("--proxies: %q is not a proxy gatecrash starts; allowed: %s", k, proxy.StartedNames()))
				}
				opts.Proxies = append(opts.Proxies, kind)
			}
			for _, n := range names {
				if !slices.Contains(scenarios.BuiltinNames(), n) {
					return errext.UsageError(fmt.Errorf("--scenarios: no built-in scenario %q; allowed: %s", n, strings.Join(scenarios.BuiltinNames(), ", ")))
				}
			}
			opts.Scenarios = names
			var pinned []matrix.Pin
			if pins != "" {
				var err error
				if pinned, err = readPins(pins); err != nil {
					return errext.UsageError(err)
				}
				var outside int
				if pinned, outside = selectedPins(pinned, opts.Proxies, names); outside > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "%d pinned cells of %s are outside --scenarios/--proxies: not run, not checked\n", outside, pins)
				}
				if len(pinned) == 0 {
					return errext.UsageError(fmt.Errorf("--check: none of the cells %s pins is in --scenarios/--proxies", pins))
				}
			} else if onlyPinned {
				return errext.UsageError(errors.New("--only-pinned needs --check PINS.yaml"))
			}
			if onlyPinned {
				opts.Only = map[string]bool{}
				for _, p := range pinned {
					opts.Only[p.Key()] = true
					if !slices.Contains(opts.Proxies, p.Proxy) && len(kinds) == 0 {
						opts.Proxies = append(opts.Proxies, p.Proxy)
					}
					if !slices.Contains(opts.Scenarios, p.Scenario) && len(names) == 0 {
						opts.Scenarios = append(opts.Scenarios, p.Scenario)
					}
				}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return errext.UsageError(fmt.Errorf("--out: %w", err))
			}
			m, runErr := matrix.Run(cmd.Context(), opts)
			if m == nil {
				if errors.Is(runErr, scenarios.ErrSelection) {
					return errext.UsageError(runErr)
				}
				return runErr
			}
			if err := writeMatrix(m, out); err != nil {
				return err
			}
			if err := m.WriteSummary(cmd.OutOrStdout()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d cells over %d proxies; skipped: %s\nwrote %s\n", len(m.Cells), len(m.Proxies),
				skippedList(m), filepath.Join(out, "conformance.{md,json,html}"))
			if runErr != nil {
				return interrupted(cmd, runErr)
			}
			if pinned != nil {
				pinned = installedPins(cmd, m, pinned)
				if diffs := m.CheckPins(pinned); len(diffs) > 0 {
					for _, d := range diffs {
						fmt.Fprintln(cmd.ErrOrStderr(), "pinned cell changed: "+d)
					}
					return errext.WithExitCode(fmt.Errorf("%d of %d pinned cells differ from %s", len(diffs), len(pinned), pins), errext.ThresholdsNotMet)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "all %d pinned cells as pinned in %s\n", len(pinned), pins)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&kinds, "proxies", nil, "proxy kinds to run (default: every kind gatecrash starts; "+proxy.StartedNames()+")")
	f.StringSliceVar(&names, "scenarios", nil, "built-in scenarios to run (default: "+strings.Join(matrix.Scenarios, ", ")+")")
	f.DurationVar(&budget, "budget", 10*time.Second, "longest load per cell (a variant's own duration when shorter)")
	f.StringVar(&out, "out", "gatecrash-matrix", "folder for conformance.{md,json,html} and the cells' run folders")
	f.StringVar(&pins, "check", "", "YAML list of pinned cells (scenario, variant, proxy, outcome): exit 3 when one differs")
	f.BoolVar(&onlyPinned, "only-pinned", false, "run only the cells --check pins")
	f.IntVar(&parallel, "parallel", 0, "cells to run at once, each with its own origin, proxy and ports (0: two per CPU; 1: one after another, as --check runs do by default)")
	f.StringVar(&rerender, "rerender", "", "rewrite the documents of the matrix in this folder from its cells' results, without running")
	return cmd
}

func skippedList(m *matrix.Matrix) string {
	if len(m.Skipped) == 0 {
		return "none"
	}
	var s []string
	for _, sk := range m.Skipped {
		s = append(s, sk.Proxy)
	}
	return strings.Join(s, ", ")
}

// installedPins drops the pins of proxies that are not installed, saying so — unless
// GATECRASH_E2E=require (CI), where a missing proxy is a failure the check reports.
// selectedPins keeps the pins of the cells a run restricted by --proxies (kinds) and
// --scenarios (names) measures — an empty list restricts nothing — and says how many it left
// out: a pin the run could not measure is not a changed cell.
func selectedPins(pins []matrix.Pin, kinds []proxy.Kind, names []string) ([]matrix.Pin, int) {
	var out []matrix.Pin
	for _, p := range pins {
		if (len(kinds) == 0 || slices.Contains(kinds, p.Proxy)) && (len(names) == 0 || slices.Contains(names, p.Scenario)) {
			out = append(out, p)
		}
	}
	return out, len(pins) - len(out)
}

func installedPins(cmd *cobra.Command, m *matrix.Matrix, pins []matrix.Pin) []matrix.Pin {
	if os.Getenv("GATECRASH_E2E") == "require" {
		return pins
	}
	var out []matrix.Pin
	for _, p := range pins {
		if slices.Contains(m.Proxies, p.Proxy) {
			out = append(out, p)
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "pinned cell %s skipped: %s is not installed\n", p.Key(), p.Proxy)
		}
	}
	return out
}

// maxPinsSize bounds a pins file (docs/conformance-pins.yaml is 3 KB).
const maxPinsSize = 1 << 20

// readPins reads a pins file: a YAML list of {scenario, variant, proxy, outcome}.
func readPins(path string) ([]matrix.Pin, error) {
	b, err := files.Read(path, "--check", maxPinsSize, nil)
	if err != nil {
		return nil, err
	}
	var pins []matrix.Pin
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&pins); err != nil {
		return nil, fmt.Errorf("--check %s: %w (want a list of {scenario, variant, proxy, outcome})", path, err)
	}
	var errs []error
	for i, p := range pins {
		if p.Scenario == "" || p.Variant == "" || p.Proxy == "" || p.Outcome == "" {
			errs = append(errs, fmt.Errorf("--check %s: entry %d: scenario, variant, proxy and outcome are all needed", path, i+1))
			continue
		}
		if err := matrix.CheckPin(p); err != nil {
			errs = append(errs, fmt.Errorf("--check %s: entry %d (%s): %w", path, i+1, p.Key(), err))
		}
	}
	if len(pins) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("--check %s: no pins in it: a check of nothing passes nothing", path))
	}
	return pins, errors.Join(errs...)
}

// writeMatrix writes the three documents into dir.
func writeMatrix(m *matrix.Matrix, dir string) error {
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"conformance.md", func(b *bytes.Buffer) error { return m.WriteMarkdown(b) }},
		{"conformance.json", func(b *bytes.Buffer) error { return m.WriteJSON(b) }},
		{"conformance.html", func(b *bytes.Buffer) error { return m.WriteHTML(b) }},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
