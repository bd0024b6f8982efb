package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
	"github.com/gatecrash/gatecrash/scenarios"
)

// Scenarios are the built-in failure scenarios the conformance matrix runs by default:
// one per failure kind, each against a fault-server origin. Left out: chain (two hops; its
// first hop is keepalive-race's proxy), client-stale-pool (the client's own hop), and
// uvicorn-race and gunicorn-race (real app servers, and gunicorn's window is too rare for a
// short budget).
var Scenarios = []string{"keepalive-race", "keepalive-race-seconds", "forced-race", "fin-mid-request", "rst-headers", "cut-body",
	"no-response", "tls-stall", "slow-upstream", "h2-goaway-race", "h2-max-requests", "h2-rst-stream", "h2-close-no-goaway", "h2-max-streams", "h2-client-goaway"}

// SecondsScale maps a built-in scenario scaled to whole seconds to the millisecond scenario
// it stands in for. The matrix runs it only for the proxies the millisecond one's fixed
// variant cannot be expressed in (Apache, Varnish, Traffic Server take their idle windows in
// seconds), and for its variant's own duration rather than the budget: its requests come
// seconds apart, and a budget scaled for milliseconds would measure too few.
var SecondsScale = map[string]string{"keepalive-race-seconds": "keepalive-race"}

// NotInstallable are proxies users run that cannot be had on the machine the matrix is made
// on, and why; the matrix lists them as skipped rather than faking them.
var NotInstallable = []SkippedProxy{
	{Proxy: "envoy", Reason: "no Debian package, and no build from source here"},
	{Proxy: "traefik", Reason: "no Debian package; its Go module does not build from the module proxy (go.mod replace " +
		"directives, a dependency version not served). Traefik proxies with Go's httputil.ReverseProxy, which is what " +
		"the embedded proxy is: see the embedded column"},
}

// Options says what `gatecrash matrix` runs.
type Options struct {
	// Proxies are the kinds to run (empty: every kind gatecrash starts itself).
	Proxies []proxy.Kind
	// Scenarios are built-in scenario names (empty: Scenarios).
	Scenarios []string
	// Budget bounds each variant's load (a variant's own duration when shorter).
	Budget time.Duration
	// OutDir receives one run folder per proxy and scenario.
	OutDir string
	// Only, when set, limits the run to these cells (scenario/variant/proxy keys): the pinned
	// cells CI checks.
	Only map[string]bool
	// Log receives a line per cell as it starts. Nil discards.
	Log io.Writer
	// Parallel is how many cells run at once, each with its own origin, proxy and ports
	// (0: two per CPU).
	Parallel int
	// Command and Version are the command line that ran the matrix and gatecrash's version,
	// recorded in it so that the documents say how to make them again.
	Command, Version string
}

// Matrix is what a conformance run measured.
type Matrix struct {
	Date   time.Time       `json:"date"`
	Budget results.Seconds `json:"budget"`
	// Command is the command line that ran it (with every flag), Gatecrash gatecrash's
	// version; both empty in matrices of older versions.
	Command   string `json:"command,omitempty"`
	Gatecrash string `json:"gatecrash,omitempty"`
	// Parallel is how many cells ran at once (0 in matrices of older versions: one).
	Parallel int `json:"parallel,omitempty"`
	// Versions are the proxies' versions, by kind.
	Versions map[string]string `json:"versions"`
	// Proxies are the kinds run, in order; scenarios.Skipped those not run (not installed, or not
	// installable here) with why.
	Proxies []proxy.Kind   `json:"proxies"`
	Skipped []SkippedProxy `json:"skipped,omitempty"`
	Rows    []Row          `json:"rows"`
	Cells   []*Cell        `json:"cells"`
	index   map[string]int // cell key -> index in Cells
}

// SkippedProxy is a proxy the matrix did not run, and why.
type SkippedProxy struct {
	Proxy  string `json:"proxy"`
	Reason string `json:"reason"`
}

// Row is one scenario variant: a row of the matrix.
type Row struct {
	Scenario string `json:"scenario"`
	Variant  string `json:"variant"`
	Method   string `json:"method"`
	// Fix says the variant is a scenario's fix (its expectations want no errors).
	Fix bool `json:"fix,omitempty"`
}

// Cell is one proxy under one scenario variant.
type Cell struct {
	Scenario string     `json:"scenario"`
	Variant  string     `json:"variant"`
	Proxy    proxy.Kind `json:"proxy"`
	// NA says why the variant does not apply to the proxy; the rest is then empty.
	NA string `json:"na,omitempty"`
	// Failed says why the run failed (the proxy did not start, ...).
	Failed   string `json:"failed,omitempty"`
	Requests int64  `json:"requests,omitempty"`
	// Outcome is the cell in a word: "ok", "ok (retried)" when the proxy absorbed injected
	// faults, or the most frequent error class ("502", "no-response", ...).
	Outcome string `json:"outcome,omitempty"`
	// Classes are the error classes seen, with count and 95% interval.
	Classes []Class `json:"classes,omitempty"`
	// Absorbed counts request faults injected at the origin that reached the client as ok
	// (-1: no request faults, only idle closes).
	Absorbed int64 `json:"absorbed"`
	// TopLog is the proxy's most frequent known error-log line, with its count.
	TopLog      string `json:"top_log,omitempty"`
	TopLogCount int64  `json:"top_log_count,omitempty"`
	// FirstError is the time from the start to the first client-visible error (0: none).
	FirstError results.Seconds `json:"first_error,omitempty"`
	// WorstGap is the idle-gap bucket with the most errors (gap-sweep loads), Window where
	// the race window opens and how wide it is.
	WorstGap string `json:"worst_gap,omitempty"`
	Window   string `json:"window,omitempty"`
	// OKp50 and OKp99 are the successful requests' latencies; ConnsPerRequest is how many
	// upstream connections the origin accepted per client request: with a fix row's, what
	// the fix costs.
	OKp50           results.Seconds `json:"ok_p50,omitempty"`
	OKp99           results.Seconds `json:"ok_p99,omitempty"`
	ConnsPerRequest float64         `json:"conns_per_request,omitempty"`
	// Change is, on a fix row, the lines of the proxy's rendered config that differ from the
	// scenario's first variant's on the same proxy: the fix as the proxy's users write it.
	Change []string `json:"change,omitempty"`
	// Dir is the cell's run folder.
	Dir    string          `json:"dir,omitempty"`
	result *results.Result // for the plots
}

// Class is one error class of a cell.
type Class struct {
	Class    string  `json:"class"`
	Count    int64   `json:"count"`
	Rate     float64 `json:"rate"`
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	Interval string  `json:"interval"`
}

// CellKey names a cell: scenario/variant/proxy.
func CellKey(scenario, variant string, k proxy.Kind) string {
	return scenario + "/" + variant + "/" + string(k)
}

// Cell returns the cell of scenario/variant/proxy, or nil.
func (m *Matrix) Cell(scenario, variant string, k proxy.Kind) *Cell {
	if len(m.index) != len(m.Cells) { // built on first use; cells are only ever appended
		m.index = map[string]int{}
		for i, c := range m.Cells {
			m.index[CellKey(c.Scenario, c.Variant, c.Proxy)] = i
		}
	}
	i, ok := m.index[CellKey(scenario, variant, k)]
	if !ok {
		return nil
	}
	return m.Cells[i]
}

// Run runs every selected scenario variant against every selected proxy that is
// installed, each for at most the budget. A cell whose proxy fails is recorded as failed and
// the matrix goes on; an interrupt (ctx) stops it with the cells measured so far.
func Run(ctx context.Context, opts Options) (*Matrix, error) {
	if opts.Budget <= 0 {
		return nil, fmt.Errorf("%w: the budget must be positive", scenarios.ErrSelection)
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	kinds := opts.Proxies
	if len(kinds) == 0 {
		kinds = proxy.Started()
	}
	names := opts.Scenarios
	if len(names) == 0 {
		names = Scenarios
	}
	m := &Matrix{Date: time.Now().UTC(), Budget: results.Seconds(opts.Budget), Command: opts.Command, Gatecrash: opts.Version,
		Versions: map[string]string{}}
	for _, k := range kinds {
		if k == proxy.External {
			return nil, fmt.Errorf("%w: the matrix runs the proxies gatecrash starts; external is yours", scenarios.ErrSelection)
		}
		v, err := proxy.Version(k, "")
		if err != nil {
			reason := err.Error()
			if errors.Is(err, proxy.ErrBinaryNotFound) {
				reason = strings.TrimPrefix(reason, proxy.ErrBinaryNotFound.Error()+": ")
			}
			m.Skipped = append(m.Skipped, SkippedProxy{Proxy: string(k), Reason: "not installed: " + reason})
			continue
		}
		m.Versions[string(k)] = v
		m.Proxies = append(m.Proxies, k)
	}
	if len(opts.Proxies) == 0 {
		// The whole matrix says which proxies it could not have; one asked for by name
		// does not list proxies nobody asked for.
		m.Skipped = append(m.Skipped, NotInstallable...)
	}
	var scs []*scenarios.Scenario
	for _, n := range names {
		sc, err := scenarios.Builtin(n)
		if err != nil {
			return nil, err
		}
		scs = append(scs, sc)
		for _, v := range sc.Variants {
			m.Rows = append(m.Rows, Row{Scenario: sc.Name, Variant: v.Name, Method: v.Load.Method, Fix: isFix(sc, v.Name)})
		}
	}
	// The cells in the matrix's order; those that run go to a pool of opts.Parallel.
	type job struct {
		cell *Cell
		d    time.Duration
	}
	var jobs []job
	for _, k := range m.Proxies {
		for _, sc := range scs {
			msScale, err := millisecondsFix(sc.Name, k)
			if err != nil {
				return nil, err
			}
			for _, v := range sc.Variants {
				if opts.Only != nil && !opts.Only[CellKey(sc.Name, v.Name, k)] {
					continue
				}
				cell := &Cell{Scenario: sc.Name, Variant: v.Name, Proxy: k}
				m.Cells = append(m.Cells, cell)
				if msScale != "" {
					cell.NA = msScale
					continue
				}
				if err := sc.Applies(k, v); err != nil {
					cell.NA = strings.TrimPrefix(err.Error(), scenarios.ErrSelection.Error()+": ")
					continue
				}
				d := min(opts.Budget, v.Load.Duration.D())
				if _, ok := SecondsScale[sc.Name]; ok || d <= 0 {
					d = v.Load.Duration.D()
				}
				if d <= 0 {
					d = opts.Budget
				}
				cell.Dir = filepath.Join(opts.OutDir, string(k), sc.Name)
				jobs = append(jobs, job{cell, d})
			}
		}
	}
	par := opts.Parallel
	if par <= 0 {
		// Two per CPU: a cell mostly waits (gaps, idle windows, timeouts, a think time in the
		// closed loops). On this project's 2-core machine the full matrix at --budget 8s took
		// 6 minutes two at a time and 4 at four (with 30 more cells: the per-proxy fixes and the
		// seconds-scale race). Four at a time once put a fix row over its margin (Node's 30 ms
		// idle timer fired 20 ms late under the closed loops' load); since the closed loops pause
		// 5 ms between requests, the matrix uses half the CPU it did, and the fix rows held.
		par = 2 * runtime.NumCPU()
	}
	m.Parallel = par
	var logMu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	notRun := map[*Cell]bool{}
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			notRun[j.cell] = true
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c := j.cell
			// A scenario of its own per cell: a fault plan's selectors count ("every"), and
			// two proxies' cells of one variant may run at once.
			sc, err := scenarios.Builtin(c.Scenario)
			if err != nil {
				c.Failed = err.Error()
				return
			}
			logMu.Lock()
			fmt.Fprintf(logw, "%s %s/%s for %s\n", c.Proxy, c.Scenario, c.Variant, j.d)
			logMu.Unlock()
			run, err := sc.Run(ctx, scenarios.RunOptions{Proxy: c.Proxy, Variants: []string{c.Variant}, Duration: j.d,
				OutDir: filepath.Join(c.Dir, "run-"+c.Variant)})
			if run != nil && len(run.Results) == 1 {
				c.fill(run.Results[0])
			}
			if err != nil && ctx.Err() == nil {
				c.Failed = err.Error()
			}
		}()
	}
	wg.Wait()
	if len(notRun) > 0 { // interrupted: the matrix holds the cells measured (or n/a) so far
		m.Cells = slices.DeleteFunc(m.Cells, func(c *Cell) bool { return notRun[c] })
	}
	m.fillChanges()
	return m, ctx.Err()
}

// millisecondsFix says why seconds-scale scenario name does not run on proxy k: its
// millisecond scenario's fixed variant runs there ("" when it does run, or name is not a
// seconds-scale scenario).
func millisecondsFix(name string, k proxy.Kind) (string, error) {
	base, ok := SecondsScale[name]
	if !ok {
		return "", nil
	}
	sc, err := scenarios.Builtin(base)
	if err != nil {
		return "", err
	}
	for _, v := range sc.Variants {
		if v.Name == "fixed" && sc.Applies(k, v) == nil {
			return fmt.Sprintf("%s's idle window takes milliseconds: %s measures its fix at that scale (this one is for proxies whose idle window takes whole seconds)", k, base), nil
		}
	}
	return "", nil
}

// Rerender reads a matrix written to dir (conformance.json) and sums its cells up again from
// their run folders' results: for a report that changed after the run, without running again.
func Rerender(dir string) (*Matrix, error) {
	b, err := files.Read(filepath.Join(dir, "conformance.json"), "--rerender", results.MaxFileSize, nil)
	if err != nil {
		return nil, err
	}
	var m Matrix
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "conformance.json"), err)
	}
	for _, c := range m.Cells {
		if c.NA != "" || c.Dir == "" {
			continue
		}
		r, err := results.ReadFile(filepath.Join(c.Dir, "run-"+c.Variant, c.Variant+".json"))
		if err != nil {
			return nil, fmt.Errorf("cell %s: %w", CellKey(c.Scenario, c.Variant, c.Proxy), err)
		}
		failed := c.Failed
		*c = Cell{Scenario: c.Scenario, Variant: c.Variant, Proxy: c.Proxy, Dir: c.Dir, Failed: failed}
		c.fill(r)
	}
	m.fillChanges()
	return &m, nil
}

// isFix says whether a scenario's expectations want no errors from the variant.
func isFix(sc *scenarios.Scenario, variant string) bool {
	for _, th := range sc.Expect[variant] {
		if th.Key == "errors" && th.Count != nil && *th.Count == 0 && (th.Op == "==" || th.Op == "") {
			return true
		}
	}
	return false
}

// fill sums up a variant's result into the cell.
func (c *Cell) fill(r *results.Result) {
	c.result = r
	c.Requests = r.Requests
	c.Absorbed = -1
	if o, ok := r.OriginTruth(); ok {
		if n, ok := o.Absorbed(r.Errors()); ok {
			c.Absorbed = n
		}
		if r.Requests > 0 {
			c.ConnsPerRequest = float64(o.ConnectionsAccepted) / float64(r.Requests)
		}
	}
	if ok := r.Outcomes[results.OK]; ok != nil && ok.Count > 0 && ok.Latency != nil {
		c.OKp50 = results.Seconds(time.Duration(ok.Latency.ValueAtQuantile(50)) * time.Microsecond)
		c.OKp99 = results.Seconds(time.Duration(ok.Latency.ValueAtQuantile(99)) * time.Microsecond)
	}
	var top results.Class
	var topN int64
	var first time.Time
	for _, cl := range results.Classes() {
		o := r.Outcomes[cl]
		if !cl.IsError() || o == nil || o.Count == 0 {
			continue
		}
		iv := results.RateInterval(o.Count, r.Requests)
		c.Classes = append(c.Classes, Class{Class: cl.String(), Count: o.Count, Rate: iv.Rate, Lo: iv.Lo, Hi: iv.Hi,
			Interval: iv.Percent()})
		if o.Count > topN {
			top, topN = cl, o.Count
		}
		if first.IsZero() || o.First.Before(first) {
			first = o.First
		}
	}
	switch {
	case topN > 0:
		c.Outcome = top.String()
		c.FirstError = results.Seconds(first.Sub(r.Start))
	case r.Requests == 0:
		c.Outcome = "no requests"
	case c.Absorbed > 0:
		c.Outcome = outcomeRetried
	default:
		c.Outcome = "ok"
	}
	logs := make([]string, 0, len(r.ProxyLog))
	for n, k := range r.ProxyLog {
		if k > 0 {
			logs = append(logs, n)
		}
	}
	sort.Slice(logs, func(i, j int) bool {
		if r.ProxyLog[logs[i]] != r.ProxyLog[logs[j]] {
			return r.ProxyLog[logs[i]] > r.ProxyLog[logs[j]]
		}
		return logs[i] < logs[j]
	})
	if len(logs) > 0 {
		c.TopLog, c.TopLogCount = logs[0], r.ProxyLog[logs[0]]
	}
	if r.Gaps != nil {
		c.WorstGap, c.Window = r.Gaps.WorstLine(), r.Gaps.WindowLine()
	}
}

// Short is the cell in a few words, for the summary table: "502 50.0%", "ok (retried)",
// "n/a", "failed".
func (c *Cell) Short() string {
	switch {
	case c == nil:
		return "-"
	case c.NA != "":
		return "n/a"
	case c.Failed != "" && c.Requests == 0:
		return "failed"
	case len(c.Classes) == 0:
		return c.Outcome
	}
	var parts []string
	for _, cl := range c.Classes {
		parts = append(parts, fmt.Sprintf("%s %s", cl.Class, shortRate(cl.Rate)))
	}
	return strings.Join(parts, ", ")
}

func shortRate(r float64) string {
	if r >= 0.01 {
		return fmt.Sprintf("%.0f%%", 100*r)
	}
	return fmt.Sprintf("%.1e", r)
}

// FixRemoved says, for a fix variant of a scenario on a proxy, whether it removed the errors
// the scenario's other (non-fix) variants had, by the same rule as thresholds: "yes (0 in
// 157: < 1.9e-02)" only when no error was seen and the fix's 95% upper bound lies below the
// lower bound of the worst other variant's error rate (the difference is shown, not just
// "none in this run"); "not shown (...)" when the fix saw none but ran too few requests to
// show it; "no" when the fix had errors; "" when it cannot tell.
func (m *Matrix) FixRemoved(scenario, variant string, k proxy.Kind) string {
	fix := m.Cell(scenario, variant, k)
	if fix == nil || fix.NA != "" || fix.Requests == 0 {
		return ""
	}
	brokeLo := -1.0
	for _, row := range m.Rows {
		if row.Scenario != scenario || row.Fix {
			continue
		}
		c := m.Cell(row.Scenario, row.Variant, k)
		if c == nil || c.NA != "" || c.Requests == 0 {
			continue
		}
		if errs := c.errors(); errs > 0 {
			brokeLo = max(brokeLo, results.RateInterval(errs, c.Requests).Lo)
		}
	}
	switch {
	case brokeLo < 0:
		return ""
	case len(fix.Classes) > 0:
		return "no"
	}
	hi := results.RateInterval(0, fix.Requests).Hi
	bound := fmt.Sprintf("0 in %s: < %s", results.FormatCount(fix.Requests), results.FormatRate(hi))
	if hi < brokeLo {
		return "yes (" + bound + ")"
	}
	return fmt.Sprintf("not shown (%s; the broken variant's rate is from %s: run it longer)", bound, results.FormatRate(brokeLo))
}

// errors counts the cell's client-visible errors.
func (c *Cell) errors() int64 {
	var n int64
	for _, cl := range c.Classes {
		n += cl.Count
	}
	return n
}

// Pin is a cell whose outcome the e2e tests confirm; CI fails when a matrix run disagrees.
type Pin struct {
	Scenario string     `yaml:"scenario"`
	Variant  string     `yaml:"variant"`
	Proxy    proxy.Kind `yaml:"proxy"`
	Outcome  string     `yaml:"outcome"`
}

// outcomeRetried is the outcome of a cell whose proxy absorbed every injected fault.
const outcomeRetried = "ok (retried)"

// CheckPin says what is wrong with a pin that could never match a cell: a proxy kind
// gatecrash does not start (it was skipped and the check passed), a scenario or variant not
// in the built-in library, an outcome no cell can have ("banana 50%").
func CheckPin(p Pin) error {
	var errs []error
	if !slices.Contains(proxy.Started(), p.Proxy) {
		errs = append(errs, fmt.Errorf("proxy %q is not a proxy the matrix starts", p.Proxy))
	}
	if sc, err := scenarios.Builtin(p.Scenario); err != nil {
		errs = append(errs, err)
	} else if !slices.ContainsFunc(sc.Variants, func(v *scenarios.Variant) bool { return v.Name == p.Variant }) {
		errs = append(errs, fmt.Errorf("scenario %s has no variant %q", p.Scenario, p.Variant))
	}
	if p.Outcome != "ok" && p.Outcome != outcomeRetried {
		if c, err := results.ParseClass(p.Outcome); err != nil || c == results.OK {
			errs = append(errs, fmt.Errorf("outcome %q is not allowed; allowed: ok, %q, or an error class (%s)", p.Outcome, outcomeRetried, errorClassList()))
		}
	}
	return errors.Join(errs...)
}

func errorClassList() string {
	var names []string
	for _, c := range results.Classes() {
		if c.IsError() {
			names = append(names, c.String())
		}
	}
	return strings.Join(names, ", ")
}

// Key is the pin's cell key.
func (p Pin) Key() string { return CellKey(p.Scenario, p.Variant, p.Proxy) }

// CheckPins compares the matrix with the pins and returns one line per pin whose cell
// differs or is missing.
func (m *Matrix) CheckPins(pins []Pin) []string {
	var out []string
	for _, p := range pins {
		c := m.Cell(p.Scenario, p.Variant, p.Proxy)
		switch {
		case c == nil:
			if !slices.Contains(m.Proxies, p.Proxy) {
				out = append(out, fmt.Sprintf("%s: %s was not run (not installed?)", p.Key(), p.Proxy))
			} else {
				out = append(out, fmt.Sprintf("%s: no such cell", p.Key()))
			}
		case c.NA != "":
			out = append(out, fmt.Sprintf("%s: pinned %q, now n/a: %s", p.Key(), p.Outcome, c.NA))
		case c.Failed != "":
			out = append(out, fmt.Sprintf("%s: pinned %q, the run failed: %s", p.Key(), p.Outcome, c.Failed))
		case c.Outcome != p.Outcome:
			out = append(out, fmt.Sprintf("%s: pinned %q, measured %q (%s)", p.Key(), p.Outcome, c.Outcome, c.Short()))
		}
	}
	return out
}
