package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/probe"
	"github.com/gatecrash/gatecrash/results"
)

// PredictOptions is what `gatecrash predict` was asked to do.
type PredictOptions struct {
	Window      string // a gap sweep's result
	Fix         string // the fix's gap sweep, optional
	Rate        float64
	Connections int
	Constant    bool
	ProxyIdle   time.Duration
	Pool        string
	Arrivals    string // a file of request times
	Requests    float64
	Stdout      io.Writer
}

func newPredictCmd() *cobra.Command {
	opts := &PredictOptions{}
	cmd := &cobra.Command{
		Use:   "predict SWEEP.json --rate R --connections K [--fix FIXED.json]",
		Short: "Expected keep-alive race errors per 100M requests at your traffic, from a measured race window",
		Long: `Turn a measured race window into the number of errors to expect in production.

SWEEP.json is the result of a gap sweep (a gap-sweep variant of gatecrash run, or gatecrash
load --pattern gap-sweep), or the report of gatecrash hunt --out, through the proxy and
origin in question: its idle-gap buckets say
where reused connections failed (the race window) and how often. --rate and --connections
describe your traffic: requests per second, spread over K pooled upstream connections,
arriving as a Poisson process (or at constant intervals with --constant). The prediction is
the share of requests whose connection's idle gap falls in the window, times the window's
failure rate, with a 95% interval (the failure rate's interval, and the window's edges
known to a bucket). --fix gives the sweep of the fixed configuration: its window, or with no
errors the upper bound it leaves, predicted at the same traffic. --proxy-idle is the proxy's
own idle window when the sweep did not reach it: gaps past it are no reuses.

--pool lifo (or fifo) simulates the proxy's pool instead: requests arrive, each takes the
sweep's median request time, and takes the most recently used idle connection (nginx's
keepalive cache, Go's Transport, Caddy) or opens one; at most --connections are kept idle.
Bursts leave connections idle far longer than the mean gap, which the closed form (--pool
even) does not have. --arrivals FILE plays your own request times through that pool: one
per line, in seconds (an access log whose lines start with nginx's $msec or HAProxy's
%Ts.%ms).

The model's assumptions are printed with every prediction.`,
		Example: `  gatecrash predict runs/today/default.json --rate 2000 --connections 32
  gatecrash predict hunt.json --rate 2000 --connections 32 --pool lifo
  gatecrash predict hunt.json --arrivals access-msec.log --connections 32 --pool lifo
  gatecrash predict runs/today/default.json --fix runs/today/fixed.json --rate 50 --connections 1`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Window, opts.Stdout = args[0], cmd.OutOrStdout()
			return runPredict(opts)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&opts.Rate, "rate", 0, "requests per second through the proxy (required)")
	f.IntVar(&opts.Connections, "connections", 0, "pooled upstream connections the requests spread over (required; a pool that reuses its most recent connection first: 1 at low traffic)")
	f.BoolVar(&opts.Constant, "constant", false, "requests at constant intervals (default: Poisson arrivals)")
	f.StringVar(&opts.Pool, "pool", "even", "how the proxy hands out idle connections: even (each of K connections sees 1/K of the traffic), lifo (most recently used first, at most K kept idle: nginx, Go, Caddy; simulated), fifo (simulated)")
	f.StringVar(&opts.Arrivals, "arrivals", "", "a file of your requests' times, one per line in seconds (an access log written with nginx $msec or HAProxy %Ts.%ms first; - for stdin): played through the simulated pool instead of --rate")
	f.DurationVar(&opts.ProxyIdle, "proxy-idle", 0, "the proxy's own idle window for pooled connections, when the sweep did not reach it (0: none)")
	f.Float64Var(&opts.Requests, "per", 1e8, "say the expected errors in this many requests")
	f.StringVar(&opts.Fix, "fix", "", "the gap sweep of the fixed configuration: predicted at the same traffic")
	return cmd
}

func runPredict(opts *PredictOptions) error {
	t := results.Traffic{Rate: opts.Rate, Connections: opts.Connections, Poisson: !opts.Constant, ProxyIdle: opts.ProxyIdle}
	var errs []error
	pool, err := results.ParsePool(opts.Pool)
	if err != nil {
		errs = append(errs, fmt.Errorf("--pool: %w", err))
	}
	t.Pool = pool
	if opts.Arrivals != "" {
		b, err := files.Read(opts.Arrivals, "--arrivals", 1<<30, os.Stdin)
		if err == nil {
			t.Arrivals, err = results.ParseArrivals(b, "--arrivals "+opts.Arrivals)
		}
		switch {
		case err != nil:
			errs = append(errs, err)
		case opts.Rate != 0:
			errs = append(errs, errors.New("--rate: give it or --arrivals, not both (the rate of the request times is theirs)"))
		case pool != results.PoolLIFO && pool != results.PoolFIFO:
			errs = append(errs, errors.New("--arrivals: request times are played through a simulated pool; add --pool lifo (nginx, Go, Caddy) or --pool fifo"))
		default:
			n := len(t.Arrivals)
			t.Rate = float64(n-1) / (t.Arrivals[n-1] - t.Arrivals[0])
			opts.Rate = t.Rate
		}
	} else if opts.Rate == 0 {
		errs = append(errs, errors.New("--rate: missing; give your requests per second, e.g. --rate 2000 (or --arrivals FILE)"))
	}
	if opts.Connections == 0 {
		errs = append(errs, errors.New("--connections: missing; give the pooled upstream connections, e.g. --connections 32"))
	}
	if len(errs) == 0 {
		if err := t.Check(); err != nil {
			errs = append(errs, err)
		}
	}
	if !(opts.Requests >= 1) || math.IsInf(opts.Requests, 0) {
		errs = append(errs, fmt.Errorf("--per %v: give a number of requests >= 1", opts.Requests))
	}
	if err := errors.Join(errs...); err != nil {
		return errext.UsageError(err)
	}
	w, note, err := sweepWindow(opts.Window)
	if err != nil {
		return err
	}
	out := opts.Stdout
	arrivals := "Poisson arrivals: each connection's idle gaps exponential"
	if opts.Constant {
		arrivals = "constant arrivals: every idle gap"
	}
	conns := fmt.Sprintf("%d connections", opts.Connections)
	if opts.Connections == 1 {
		conns = "1 connection"
	}
	if t.Pool == results.PoolLIFO || t.Pool == results.PoolFIFO {
		how := map[results.Pool]string{results.PoolLIFO: "most recently used", results.PoolFIFO: "longest idle"}[t.Pool]
		stream := fmt.Sprintf("%s/s, %s arrivals", strings.TrimSuffix(fmt.Sprint(opts.Rate), ".0"), map[bool]string{true: "Poisson", false: "constant"}[t.Poisson])
		if n := len(t.Arrivals); n > 0 {
			stream = fmt.Sprintf("%d requests from %s over %.1f s (%.1f/s)", n, opts.Arrivals, t.Arrivals[n-1]-t.Arrivals[0], t.Rate)
		}
		fmt.Fprintf(out, "traffic      %s, through a pool that hands out its %s connection first and keeps at most %s idle (simulated)\n",
			stream, how, conns)
	} else {
		fmt.Fprintf(out, "traffic      %s/s over %s, %s with mean %s\n", strings.TrimSuffix(fmt.Sprint(opts.Rate), ".0"),
			conns, arrivals, fmtGap(float64(opts.Connections)/opts.Rate))
	}
	writePrediction(out, "", w, t, opts.Requests)
	if opts.Fix != "" {
		fw, fixNote, err := sweepWindow(opts.Fix)
		if err != nil {
			return err
		}
		writePrediction(out, "fix: ", fw, t, opts.Requests)
		if fixNote != "" {
			fmt.Fprintf(out, "fix: note    %s\n", fixNote)
		}
	}
	if note != "" {
		fmt.Fprintf(out, "note         %s\n", note)
	}
	fmt.Fprintln(out, "assumptions:")
	for _, a := range results.Assumptions {
		fmt.Fprintf(out, "  - %s\n", a)
	}
	return nil
}

// sweepWindow reads a gap sweep's result, or a hunt's report, and returns its race window,
// with what the reader should know about how it was measured (a sweep of several
// connections), or "".
func sweepWindow(path string) (results.RaceWindow, string, error) {
	if w, ok, err := huntWindow(path); ok || err != nil {
		return w, "", err
	}
	rs, err := readResults([]string{path})
	if err != nil {
		return results.RaceWindow{}, "", err
	}
	g := rs[0].Gaps
	if g == nil {
		return results.RaceWindow{}, "", errext.UsageError(fmt.Errorf("%s: not a gap sweep (no idle-gap buckets); run a gap-sweep variant or gatecrash load --pattern gap-sweep through the proxy", path))
	}
	w, ok := g.Window()
	if !ok {
		return results.RaceWindow{}, "", errext.UsageError(fmt.Errorf("%s: its gap sweep has no request in its buckets", path))
	}
	if o := rs[0].Outcomes[results.OK]; o != nil && o.Latency != nil && o.Count > 0 {
		w.Latency = results.Seconds(o.Latency.Quantile(50))
	}
	note := ""
	if n := rs[0].Target.Connections; n > 1 && w.Errors > 0 {
		note = fmt.Sprintf("the sweep ran %d connections: a request after a failure went on a new upstream connection (no reuse), "+
			"but the client cannot tell which, so its bucket counts it and the window's failure rate per reuse reads low "+
			"(up to 2x, docs/fidelity.md); sweep with one connection, or hunt", n)
	}
	return w, note, nil
}

func writePrediction(out io.Writer, prefix string, w results.RaceWindow, t results.Traffic, per float64) {
	p := results.Predict(w, t)
	if w.Errors == 0 {
		fmt.Fprintf(out, "%srace window  none seen in %s..%s (0 errors in %d reuses: p < %s)\n", prefix, fmtGap(secs(w.Open)), fmtGap(secs(w.Close)),
			w.Requests, results.FormatPercent(w.P.Hi))
		_, _, hi := p.Per(per)
		fmt.Fprintf(out, "%sexpected     0 errors per %s requests (at most %s)\n", prefix, fmtCount(per), fmtCount(hi))
		return
	}
	fmt.Fprintf(out, "%srace window  gaps %s..%s: %d errors in %d reuses inside, p = %s\n", prefix, fmtGap(secs(w.Open)), fmtGap(secs(w.Close)),
		w.Errors, w.Requests, w.P.Pct())
	if w.Latency > 0 {
		fmt.Fprintf(out, "%s             met by requests %s..%s apart on a connection (the sweep's median request took %s)\n", prefix,
			fmtGap(secs(w.Open+w.Latency)), fmtGap(secs(w.Close+w.Latency)), fmtGap(secs(w.Latency)))
	}
	mid, lo, hi := p.Per(per)
	fmt.Fprintf(out, "%sin window    %s of requests\n", prefix, results.FormatPercent(p.InWindow))
	fmt.Fprintf(out, "%sexpected     %s errors per %s requests (%s..%s); %s per request\n", prefix, fmtCount(mid), fmtCount(per),
		fmtCount(lo), fmtCount(hi), results.FormatRate(p.PerRequest))
}

func secs(s results.Seconds) float64 { return time.Duration(s).Seconds() }

// fmtGap writes a gap in seconds as milliseconds with µs precision.
func fmtGap(s float64) string { return fmt.Sprintf("%.3f ms", s*1e3) }

// fmtCount writes an expected count: whole from 10 up, else with two significant digits; a
// round million or billion as 100M, 1G.
func fmtCount(f float64) string {
	for _, u := range []struct {
		v float64
		s string
	}{{1e9, "G"}, {1e6, "M"}} {
		if f >= u.v && f == math.Trunc(f/u.v)*u.v {
			return fmt.Sprintf("%.0f%s", f/u.v, u.s)
		}
	}
	if f >= 10 && f < 1e15 {
		return results.FormatCount(int64(math.Round(f)))
	}
	return fmt.Sprintf("%.2g", f)
}

// huntWindow reads path as a hunt's report (gatecrash hunt --out) and returns the window its
// sampling phase measured; ok is false when path is not a hunt report.
func huntWindow(path string) (w results.RaceWindow, ok bool, err error) {
	b, err := files.Read(path, "hunt report or result", 256<<20, os.Stdin)
	if err != nil || !huntKind.Looks(b[:min(len(b), files.HeadSize)]) {
		return w, false, nil // not a hunt report: read as a result, which says what is wrong
	}
	var rep probe.HuntReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return w, true, errext.UsageError(fmt.Errorf("%s: a hunt report that does not parse: %w", path, err))
	}
	if rep.Gaps == nil {
		return w, true, errext.UsageError(fmt.Errorf("%s: the hunt ended before it sampled a window (%s); hunt again with a longer --budget", path, rep.Verdict))
	}
	if w, ok = rep.Gaps.Window(); !ok {
		return w, true, errext.UsageError(fmt.Errorf("%s: the hunt's sampling phase has no request", path))
	}
	w.Latency = results.Seconds(rep.MedianLatency())
	return w, true, nil
}
