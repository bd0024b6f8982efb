package matrix

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
	"github.com/gatecrash/gatecrash/scenarios"
)

// configExts are the files of a run folder that hold a proxy's rendered config.
var configExts = []string{".conf", ".cfg", ".config", ".vcl", ".yaml", ".json", ".js", "Caddyfile"}

// maxConfigBytes bounds what configLines reads of one file.
const maxConfigBytes = 1 << 20

// runSpecific finds what differs between two runs of one config without being config: the
// ports (five digits: the listen ports gatecrash picks and the origins' ephemeral ones; a
// setting of five digits is masked too, and its variable's line says its value) and the run's
// temporary folders. mask writes them as PORT and RUNDIR, in the lines compared and shown.
var runSpecific = regexp.MustCompile(`/tmp/[^\s"';,]+|\b\d{5}\b`)

func mask(line string) string {
	return runSpecific.ReplaceAllStringFunc(line, func(m string) string {
		if strings.HasPrefix(m, "/tmp/") {
			return "RUNDIR"
		}
		return "PORT"
	})
}

// configLines reads the config files under dir: their non-comment, non-blank lines, masked.
func configLines(dir string) (lines []string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if !slices.ContainsFunc(configExts, func(e string) bool { return strings.HasSuffix(d.Name(), e) }) {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(io.LimitReader(f, maxConfigBytes))
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "//") {
				continue
			}
			lines = append(lines, mask(l))
		}
		return nil
	})
	return lines
}

// configChange returns the lines of the config rendered in dir that a line diff against the
// config rendered in base adds, in dir's order (a longest common subsequence of the lines,
// run-specific numbers masked: a block the fix adds comes whole, its closing brace too).
func configChange(base, dir string) []string {
	a, b := configLines(base), configLines(dir)
	// lcs[i][j] is the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for j < len(b) {
		switch {
		case i < len(a) && a[i] == b[j]:
			i, j = i+1, j+1
		case i < len(a) && lcs[i+1][j] >= lcs[i][j+1]:
			i++
		default:
			out = append(out, b[j])
			j++
		}
	}
	return out
}

// configDir is where a cell's run rendered its proxy's config.
func (c *Cell) configDir() string { return filepath.Join(c.Dir, "run-"+c.Variant, c.Variant) }

// fillChanges sets each fix cell's Change: the variables its variant sets, each with the
// setting it is for that proxy, then the rendered config's lines that differ from the
// scenario's first variant's on the same proxy.
func (m *Matrix) fillChanges() {
	for _, row := range m.Rows {
		if !row.Fix {
			continue
		}
		var v *scenarios.Variant
		if sc, err := scenarios.Builtin(row.Scenario); err == nil {
			if i := slices.IndexFunc(sc.Variants, func(v *scenarios.Variant) bool { return v.Name == row.Variant }); i >= 0 {
				v = sc.Variants[i]
			}
		}
		for _, k := range m.Proxies {
			c := m.Cell(row.Scenario, row.Variant, k)
			if c == nil || c.NA != "" || c.Dir == "" {
				continue
			}
			c.Change = nil
			if v != nil {
				for _, name := range v.OwnProxyVars {
					knob, _ := proxy.Knob(k, name)
					c.Change = append(c.Change, fmt.Sprintf("%s: %s (%s)", name, v.Proxy.Vars[name], knob))
				}
			}
			if base := m.Cell(row.Scenario, m.firstVariant(row.Scenario), k); base != nil && base != c && base.Dir != "" && base.NA == "" {
				c.Change = append(c.Change, configChange(base.configDir(), c.configDir())...)
			}
		}
	}
}

// firstVariant is a scenario's first row's variant: the one its fixes are measured against.
func (m *Matrix) firstVariant(scenario string) string {
	for _, r := range m.Rows {
		if r.Scenario == scenario {
			return r.Variant
		}
	}
	return ""
}

// Fix is one fix variant of a scenario on one proxy, as measured: what `gatecrash advise`
// prints and conformance.md's "How to fix it on your proxy" tabulates.
type Fix struct {
	Variant string
	// NA says why the proxy cannot express the fix; the rest is then empty.
	NA string
	// Change is the variables the fix sets and the rendered config lines it changed.
	Change []string
	// Before is the worst other variant's errors ("default: 502 32 20.5% (...)"), After the
	// fix's; Removed is FixRemoved's verdict.
	Before, After, Removed string
	// Latency is the successful requests' p50 / p99 with the broken variant's beside it;
	// Conns the upstream connections per request, likewise; "-" when not measured.
	Latency, Conns string
}

// Fixes returns the fix variants of a scenario on proxy k, in the matrix's order; ran says
// whether any of the scenario's variants ran on k (not: another scale's proxy, or not run).
func (m *Matrix) Fixes(scenario string, k proxy.Kind) (fixes []Fix, ran bool) {
	before := m.worstBroken(scenario, k)
	for _, row := range m.Rows {
		c := m.Cell(row.Scenario, row.Variant, k)
		if row.Scenario != scenario || c == nil {
			continue
		}
		ran = ran || c.NA == ""
		if !row.Fix {
			continue
		}
		if c.NA != "" {
			fixes = append(fixes, Fix{Variant: row.Variant, NA: c.NA})
			continue
		}
		fixes = append(fixes, m.fix(k, row.Variant, c, before))
	}
	return fixes, ran
}

// HasFix says whether the scenario has a fix variant at all.
func (m *Matrix) HasFix(scenario string) bool {
	return slices.ContainsFunc(m.Rows, func(r Row) bool { return r.Scenario == scenario && r.Fix })
}

// fixSection writes "How to fix it on your proxy": per scenario its remedy, then per proxy
// each fix variant that runs there with the config it changed, the errors before and after,
// and what it cost; the fixes that cannot be expressed on the proxy, with why.
func (m *Matrix) fixSection(b *strings.Builder) {
	b.WriteString("\n## How to fix it on your proxy\n\n")
	b.WriteString("Per scenario: what to do, then per proxy each fix variant that was measured — the variables it " +
		"sets (gatecrash's names, then the proxy's setting), the lines of the rendered config that differ from the " +
		"scenario's first variant's, the errors before (the worst other variant) and after, and what the fix costs " +
		"(successful requests' latency, upstream connections the origin accepted per request). " +
		"`gatecrash advise PROXY` prints the same for one proxy.\n")
	for _, name := range m.ScenarioNames() {
		fmt.Fprintf(b, "\n### %s\n\n", name)
		if sc, err := scenarios.Builtin(name); err == nil && sc.Remedy != "" {
			b.WriteString(strings.Join(strings.Fields(sc.Remedy), " ") + "\n\n")
		}
		if !m.HasFix(name) {
			b.WriteString("No fix variant: no proxy setting removes it (above).\n")
			continue
		}
		t := table{head: []string{"proxy", "fix", "change", "before", "after", "fix removed it", "ok p50 / p99 (before)",
			"upstream connections per request (before)"}}
		var notes []string
		for _, k := range m.Proxies {
			fixes, ran := m.Fixes(name, k)
			if !ran {
				continue // not this proxy's scale (keepalive-race-seconds), or not run
			}
			var na []string
			for _, f := range fixes {
				if f.NA != "" {
					na = append(na, f.Variant+": "+strings.TrimPrefix(f.NA, "variant "+f.Variant+": "))
					continue
				}
				change := "-"
				if len(f.Change) > 0 {
					quoted := make([]string, len(f.Change))
					for i, l := range f.Change {
						quoted[i] = "`" + strings.ReplaceAll(l, "`", "'") + "`"
					}
					change = strings.Join(quoted, "<br>")
				}
				t.rows = append(t.rows, []string{string(k), f.Variant, change, f.Before, f.After, f.Removed, f.Latency, f.Conns})
			}
			if len(na) > 0 {
				notes = append(notes, fmt.Sprintf("- %s cannot express %s.", k, strings.Join(na, "; ")))
			}
		}
		if len(t.rows) > 0 {
			t.markdown(b)
		}
		if len(notes) > 0 {
			b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
		}
	}
}

// worstBroken is the scenario's non-fix cell on proxy k with the highest lower bound of its
// error rate (nil: none had errors).
func (m *Matrix) worstBroken(scenario string, k proxy.Kind) *Cell {
	var worst *Cell
	lo := -1.0
	for _, row := range m.Rows {
		if row.Scenario != scenario || row.Fix {
			continue
		}
		c := m.Cell(row.Scenario, row.Variant, k)
		if c == nil || c.NA != "" || c.Requests == 0 || c.errors() == 0 {
			continue
		}
		if l := results.RateInterval(c.errors(), c.Requests).Lo; l > lo {
			worst, lo = c, l
		}
	}
	return worst
}

// fix sums up one measured fix cell against the worst broken one.
func (m *Matrix) fix(k proxy.Kind, variant string, c, before *Cell) Fix {
	f := Fix{Variant: variant, Change: c.Change, Before: "no errors", Latency: "-", Conns: "-"}
	if before != nil {
		f.Before = before.Variant + ": " + before.errorText()
	}
	if c.Failed != "" {
		f.After = "failed: " + c.Failed
		return f
	}
	f.After, f.Removed = c.errorText(), m.FixRemoved(c.Scenario, variant, k)
	if f.Removed == "" {
		f.Removed = "- (no other variant had errors on this proxy)"
	}
	if c.OKp50 > 0 {
		f.Latency = results.FormatDuration(time.Duration(c.OKp50)) + " / " + results.FormatDuration(time.Duration(c.OKp99))
		if before != nil && before.OKp50 > 0 {
			f.Latency += " (" + results.FormatDuration(time.Duration(before.OKp50)) + " / " +
				results.FormatDuration(time.Duration(before.OKp99)) + ")"
		}
	}
	if c.ConnsPerRequest > 0 {
		f.Conns = fmt.Sprintf("%.2f", c.ConnsPerRequest)
		if before != nil && before.ConnsPerRequest > 0 {
			f.Conns += fmt.Sprintf(" (%.2f)", before.ConnsPerRequest)
		}
	}
	return f
}

// errorText is the cell's errors with their intervals, or "0 in N (< bound)".
func (c *Cell) errorText() string {
	var errs []string
	for _, cl := range c.Classes {
		errs = append(errs, fmt.Sprintf("%s %s %s", cl.Class, results.FormatCount(cl.Count), cl.Interval))
	}
	if len(errs) == 0 {
		return "0 in " + results.FormatCount(c.Requests) + " (< " + results.FormatRate(results.RateInterval(0, c.Requests).Hi) + ")"
	}
	return strings.Join(errs, "; ")
}
