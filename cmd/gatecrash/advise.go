package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/docs"
	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/matrix"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
	"github.com/gatecrash/gatecrash/scenarios"
)

func newAdviseCmd() *cobra.Command {
	var (
		names, hops []string
		from        string
	)
	cmd := &cobra.Command{
		Use:   "advise PROXY [flags]",
		Short: "Print the fixes measured for a proxy: the config lines, the errors before and after, the cost",
		Long: `Print, for one proxy kind, what the conformance matrix measured about fixing each failure
scenario on it: per scenario what to do, each fix variant with the variables it sets and the
lines of the proxy's rendered config it changed, the errors before (the scenario's worst
other variant) and after with 95% intervals, whether the fix removed them, and what it cost
(latency of the successful requests, upstream connections per request); the fixes the proxy
cannot express, with why.

With --hop (as probe chain takes them: your proxy's idle window and your app's keep-alive
timeout, written down or @probe.json as gatecrash probe measured them), it first says whether
your setup races and the value to set, e.g. --hop nginx=60s --hop uvicorn=5s.

The evidence is the matrix built into this binary (docs/conformance.json, made by ` + "`make matrix`" + `
on the machine and date it names), or --matrix FILE: a conformance.json of your own
` + "`gatecrash matrix`" + ` run — with your proxy's version on your machine.`,
		Example: `  gatecrash advise haproxy
  gatecrash advise nginx --scenario keepalive-race
  gatecrash advise nginx --hop nginx=60s --hop uvicorn=5s
  gatecrash advise haproxy --hop haproxy=@haproxy-probe.json --hop app=@app-probe.json
  gatecrash advise apache --matrix bin/matrix/conformance.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := proxy.ParseKind(args[0])
			if err != nil || !slices.Contains(proxy.Started(), k) {
				return errext.UsageError(fmt.Errorf("PROXY: %q is not a proxy the matrix measures; allowed: %s", args[0], proxy.StartedNames()))
			}
			b, source := docs.ConformanceJSON, "the matrix built into gatecrash (docs/conformance.json)"
			if from != "" {
				if b, err = files.Read(from, "--matrix", results.MaxFileSize, nil); err != nil {
					return err
				}
				source = from
			}
			var m matrix.Matrix
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("--matrix %s: not a conformance.json: %w", from, err)
			}
			for _, n := range names {
				if !slices.ContainsFunc(m.Rows, func(r matrix.Row) bool { return r.Scenario == n }) {
					return errext.UsageError(fmt.Errorf("--scenario: %q is not in %s; it has: %s", n, source, strings.Join(m.ScenarioNames(), ", ")))
				}
			}
			if !slices.Contains(m.Proxies, k) {
				return fmt.Errorf("%s has no measurements of %s (it ran %v): run `gatecrash matrix --proxies %s` and pass its conformance.json with --matrix",
					source, k, m.Proxies, k)
			}
			w := cmd.OutOrStdout()
			if len(hops) > 0 {
				vs, err := chainOf(hops)
				if err != nil {
					return err
				}
				fmt.Fprintln(w, "your setup:")
				for _, v := range vs {
					fmt.Fprintf(w, "  %s\n", wrap(v.Text, 88, "  "))
				}
				fmt.Fprintln(w)
			}
			return writeAdvice(w, &m, k, names, source)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&names, "scenario", nil, "only these scenarios (repeat or comma-separate; default: all the matrix ran)")
	f.StringVar(&from, "matrix", "", "a conformance.json of your own `gatecrash matrix` run (default: the one built in)")
	f.StringArrayVar(&hops, "hop", nil, "your setup, client side first, as probe chain takes it: NAME=60s, NAME=keep=D,close=D or NAME=@probe.json (repeatable)")
	return cmd
}

// writeAdvice prints the fixes the matrix measured for proxy k, scenario by scenario.
func writeAdvice(w io.Writer, m *matrix.Matrix, k proxy.Kind, only []string, source string) error {
	how := m.Command
	if m.Gatecrash != "" {
		how += " (gatecrash " + m.Gatecrash + ")"
	}
	fmt.Fprintf(w, "%s %s, as measured by %s on %s UTC\nfrom %s\n", k, m.Versions[string(k)], how, m.Date.Format("2006-01-02 15:04"), source)
	for _, name := range m.ScenarioNames() {
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		fixes, ran := m.Fixes(name, k)
		if !ran {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", name)
		if sc, err := scenarios.Builtin(name); err == nil && sc.Remedy != "" {
			fmt.Fprintf(w, "  what to do: %s\n", wrap(strings.Join(strings.Fields(sc.Remedy), " "), 76, "              "))
		}
		if !m.HasFix(name) {
			fmt.Fprintln(w, "  no fix variant: no proxy setting removes it")
			continue
		}
		for _, f := range fixes {
			if f.NA != "" {
				fmt.Fprintf(w, "  fix %q: cannot be written on %s: %s\n", f.Variant, k, f.NA)
				continue
			}
			fmt.Fprintf(w, "  fix %q: removed it: %s\n", f.Variant, f.Removed)
			for i, l := range f.Change {
				label := "           "
				if i == 0 {
					label = "    change:"
				}
				fmt.Fprintf(w, "%s %s\n", label, l)
			}
			fmt.Fprintf(w, "    before: %s\n    after:  %s\n    cost:   ok p50 / p99 %s; upstream connections per request %s\n",
				f.Before, f.After, f.Latency, f.Conns)
		}
	}
	return nil
}

// wrap breaks s into lines of at most width characters, the later ones behind indent.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		if i > 0 && n+1+len(word) > width {
			b.WriteString("\n" + indent)
			n = 0
		} else if i > 0 {
			b.WriteString(" ")
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
