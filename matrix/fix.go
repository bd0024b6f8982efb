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

// runSpecific masks what differs between two runs of one config without being config: ports,
// the run's temporary folders, pids.
var runSpecific = regexp.MustCompile(`(:|port\s*=?\s*"?)\d{2,5}\b|/tmp/[^\s"';]+|\d{5,}`)

// configLines reads the config files under dir: for each, its non-comment, non-blank lines
// as written and as compared (run-specific numbers masked).
func configLines(dir string) (lines, keys []string) {
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
			lines = append(lines, l)
			keys = append(keys, runSpecific.ReplaceAllString(l, "$1N"))
		}
		return nil
	})
	return lines, keys
}

// configChange returns the lines of the config rendered in dir that a line diff against the
// config rendered in base adds, in dir's order (a longest common subsequence of the lines,
// run-specific numbers masked: a block the fix adds comes whole, its closing brace too).
func configChange(base, dir string) []string {
	_, a := configLines(base)
	lines, b := configLines(dir)
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
			out = append(out, lines[j])
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
		for _, k := range m.Proxies {
			c := m.Cell(row.Scenario, row.Variant, k)
			if c == nil || c.NA != "" || c.Dir == "" {
				continue
			}
			c.Change = nil
			sc, err := scenarios.Builtin(row.Scenario)
			if err != nil {
				continue
			}
			for _, v := range sc.Variants {
				if v.Name != row.Variant {
					continue
				}
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

// fixSection writes "How to fix it on your proxy": per scenario its remedy, then per proxy
// each fix variant that runs there with the config it changed, the errors before and after,
// and what it cost; the fixes that cannot be expressed on the proxy, with why.
func (m *Matrix) fixSection(b *strings.Builder) {
	b.WriteString("\n## How to fix it on your proxy\n\n")
	b.WriteString("Per scenario: what to do, then per proxy each fix variant that was measured — the variables it " +
		"sets (gatecrash's names, then the proxy's setting), the lines of the rendered config that differ from the " +
		"scenario's first variant's, the errors before (the worst other variant) and after, and what the fix costs " +
		"(successful requests' latency, upstream connections the origin accepted per request).\n")
	for _, name := range m.scenarioNames() {
		fmt.Fprintf(b, "\n### %s\n\n", name)
		sc, err := scenarios.Builtin(name)
		if err == nil && sc.Remedy != "" {
			b.WriteString(strings.Join(strings.Fields(sc.Remedy), " ") + "\n\n")
		}
		t := table{head: []string{"proxy", "fix", "change", "before", "after", "fix removed it", "ok p50 / p99 (before)",
			"upstream connections per request (before)"}}
		var notes []string
		hasFix := false
		for _, k := range m.Proxies {
			before := m.worstBroken(name, k)
			var na []string
			ran, cells := false, 0
			for _, row := range m.Rows {
				c := m.Cell(row.Scenario, row.Variant, k)
				if row.Scenario != name || c == nil {
					continue
				}
				cells++
				if c.NA == "" {
					ran = true
				}
				if !row.Fix {
					continue
				}
				hasFix = true
				if c.NA != "" {
					na = append(na, row.Variant+": "+c.NA)
					continue
				}
				t.rows = append(t.rows, m.fixRow(k, row.Variant, c, before))
			}
			if !ran || cells == 0 {
				continue // not this proxy's scale (keepalive-race-seconds), or not run
			}
			if len(na) > 0 {
				notes = append(notes, fmt.Sprintf("- %s cannot express %s.", k, strings.Join(na, "; ")))
			}
		}
		switch {
		case !hasFix:
			b.WriteString("No fix variant: no proxy setting removes it (above).\n")
		case len(t.rows) > 0:
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

// fixRow is one fix cell in the fix table.
func (m *Matrix) fixRow(k proxy.Kind, variant string, c, before *Cell) []string {
	change := "-"
	if len(c.Change) > 0 {
		quoted := make([]string, len(c.Change))
		for i, l := range c.Change {
			quoted[i] = "`" + strings.ReplaceAll(l, "`", "'") + "`"
		}
		change = strings.Join(quoted, "<br>")
	}
	beforeText, latency, conns := "no errors", "-", "-"
	if before != nil {
		beforeText = before.Variant + ": " + before.errorText()
	}
	if c.Failed != "" {
		return []string{string(k), variant, change, beforeText, "failed: " + c.Failed, "", "", ""}
	}
	if c.OKp50 > 0 {
		latency = results.FormatDuration(time.Duration(c.OKp50)) + " / " + results.FormatDuration(time.Duration(c.OKp99))
		if before != nil && before.OKp50 > 0 {
			latency += " (" + results.FormatDuration(time.Duration(before.OKp50)) + " / " +
				results.FormatDuration(time.Duration(before.OKp99)) + ")"
		}
	}
	if c.ConnsPerRequest > 0 {
		conns = fmt.Sprintf("%.2f", c.ConnsPerRequest)
		if before != nil && before.ConnsPerRequest > 0 {
			conns += fmt.Sprintf(" (%.2f)", before.ConnsPerRequest)
		}
	}
	return []string{string(k), variant, change, beforeText, c.errorText(), m.FixRemoved(c.Scenario, variant, k), latency, conns}
}

// errorText is the cell's errors with their intervals, or "0 (< bound)".
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
