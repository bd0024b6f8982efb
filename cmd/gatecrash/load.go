package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/internal/ctxwait"
	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/internal/metrics"
	"github.com/gatecrash/gatecrash/internal/soak"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/results"
)

// LoadOptions is what `gatecrash load` was asked to do.
type LoadOptions struct {
	Config loadgen.Config
	Out    string
	// CheckpointInterval is how often the result so far is written to Out (0: never).
	CheckpointInterval time.Duration
	// Hlog is the interval histogram log to write ("" for none).
	Hlog string
	// MetricsListen is the address to serve Prometheus metrics on while the run goes ("": none).
	MetricsListen string
	// MetricsLinger keeps serving the final figures this long after the run, so that the
	// scraper's last scrape holds every request (the requests of the last scrape interval
	// are otherwise never scraped).
	MetricsLinger time.Duration
	// OriginAdmin is the fault server's admin URL, to put its ground truth in the result.
	OriginAdmin string
	// Resume is the result of an earlier segment of this run to continue ("": a new run).
	Resume string
	// Shard is "I/N" when this load is one of N side by side ("": the whole load).
	Shard string
	// RunID names the run (shards of one run share it); "" makes one up.
	RunID string
	// BodyFile is the request body's file ("-": stdin).
	BodyFile string
	// TargetsFile is a targets file (vegeta's format; "-": stdin): requests sent in turn.
	TargetsFile string
	// Force lets --out and --hlog replace an existing file that is not a gatecrash result or
	// interval log.
	Force bool
	// LogResult prints the result on stdout as a block merge --from-logs reads.
	LogResult bool
	Quiet     bool
	Stdout    io.Writer
	Stderr    io.Writer
	// Progress decides whether to draw a live progress bar (stderr is a terminal).
	Progress bool
}

func newLoadCmd(runF func(context.Context, *LoadOptions) error) *cobra.Command {
	opts := &LoadOptions{}
	c := &opts.Config
	var think, burstPause, gapCenter, gapSpread, gapStep, duration, timeout, connectTimeout, idle, grace time.Duration
	var h2c bool
	cmd := &cobra.Command{
		Use:   "load URL|--targets FILE [flags]",
		Short: "Drive HTTP/1.1 load at a URL and classify every request's outcome",
		Long: `Drive HTTP/1.1 load at URL (a proxy, usually) and put every request in exactly one
outcome class, with latency per class. gatecrash never retries a request: a request that
fails on a reused connection is counted as failed, which is exactly what Go's http.Transport
and most clients hide.

Outcome classes: ` + classList() + `

Client models (--client): how an idle pooled connection is checked before reuse.
  checked            look first (a non-blocking read) and replace a connection the peer
                     has closed: Go's http.Transport, Node's http.Agent, curl (default)
  validate-after=DUR look only at connections idle longer than DUR: Apache HttpClient 4.5
                     (validateAfterInactivity, 2s by default)
  naive              never look: every close that arrived while idle becomes an error
Each error on a reused connection is split into stale (the close was there before the
request was written: the client's pool) and race (it arrived after: a true race).

Patterns:
  closed     --connections busy back to back (like wrk), optional --think-time
  constant   open loop at --rate req/s; latency counts from each intended start
             (coordinated omission corrected); --connections caps concurrency
  poisson    as constant, with Poisson arrivals: exponential gaps (--seed replays them)
  bursts     --burst-size requests, then --burst-pause, repeated
  gap-sweep  each connection waits --gap-center ± --gap-spread (in --gap-step steps)
             between requests: the pattern that hits a keep-alive idle-timeout race;
             --gap-clock keeps the connections in step (request n at n × center
             ± spread from the start), so a pool of as many upstream connections is
             reused all at once, each idle about center less the response time

The first SIGINT stops sending, lets in-flight requests finish (--grace), prints and
writes the results and exits 130; a second SIGINT exits at once.`,
		Example: `  gatecrash load http://127.0.0.1:8080/ --connections 64 --duration 30s
  gatecrash load --targets targets.txt --pattern constant --rate 500 --duration 5m
  gatecrash load http://127.0.0.1:8080/ --pattern constant --rate 20000 --duration 1m
  gatecrash load http://127.0.0.1:8080/ --method POST --body-size 512 \
      --pattern gap-sweep --gap-center 5s --gap-spread 100ms --connections 20 --out race.json`,
		Args: usageArgs(func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("targets") {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.TargetsFile != "" {
				for _, fl := range []string{"method", "body-size", "body-file"} {
					if cmd.Flags().Changed(fl) {
						return errext.UsageError(fmt.Errorf("--targets: each target says its own method and body; leave --%s out", fl))
					}
				}
				ts, err := readTargets(opts.TargetsFile, cmd.InOrStdin())
				if err != nil {
					return errext.UsageError(err)
				}
				c.Targets, c.URL, c.Method = ts, ts[0].URL, ts[0].Method
			} else {
				c.URL = args[0]
			}
			if h2c {
				if !strings.HasPrefix(strings.ToLower(c.URL), "http://") {
					return errext.UsageError(fmt.Errorf("--h2c: %q is not allowed; h2c is HTTP/2 with prior knowledge over plain TCP: "+
						"give an http:// URL (for https://, --http2 speaks h2 by ALPN)", c.URL))
				}
				c.HTTP2 = true
			}
			c.ThinkTime, c.BurstPause = yamlconf.Duration(think), yamlconf.Duration(burstPause)
			c.GapCenter, c.GapSpread, c.GapStep = yamlconf.Duration(gapCenter), yamlconf.Duration(gapSpread), yamlconf.Duration(gapStep)
			c.Duration, c.Timeout = yamlconf.Duration(duration), yamlconf.Duration(timeout)
			c.ConnectTimeout, c.IdleTimeout, c.Grace = yamlconf.Duration(connectTimeout), yamlconf.Duration(idle), yamlconf.Duration(grace)
			c.Method = strings.ToUpper(c.Method)
			if opts.BodyFile != "" {
				if cmd.Flags().Changed("body-size") {
					return errext.UsageError(errors.New("--body-file: the body's size is the file's; leave --body-size out"))
				}
				b, err := files.Read(opts.BodyFile, "--body-file", loadgen.MaxBodySize, cmd.InOrStdin())
				if err != nil {
					return errext.UsageError(err)
				}
				c.Body, c.BodySize = b, len(b)
			}
			if !cmd.Flags().Changed("duration") && cmd.Flags().Changed("requests") {
				c.Duration = 0 // --requests alone: run until that many are done
			}
			var errs []error
			cmd.Flags().Visit(func(fl *pflag.Flag) { errs = append(errs, loadgen.CheckWritten(fl.Name, fl.Value.String())) })
			errs = append(errs, checkSoakFlags(cmd.Flags(), opts.Out, opts.CheckpointInterval))
			switch {
			case opts.MetricsLinger < 0:
				errs = append(errs, fmt.Errorf("--metrics-linger: %s is negative; allowed: 0 or more", opts.MetricsLinger))
			case opts.MetricsLinger > 0 && opts.MetricsListen == "":
				errs = append(errs, errors.New("--metrics-linger: there are no metrics to serve; give --metrics-listen ADDR"))
			}
			if err := errors.Join(errs...); err != nil {
				return errext.UsageError(flagErrors(err))
			}
			opts.Stdout, opts.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			opts.Progress = !opts.Quiet && isTerminal(opts.Stderr)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLoad(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar((*string)(&c.Pattern), "pattern", string(loadgen.Closed), "pacing: closed, constant, poisson, bursts or gap-sweep")
	f.IntVar(&c.Connections, "connections", loadgen.DefaultConnections, "connections (the concurrency cap for constant and poisson)")
	f.Float64Var(&c.Rate, "rate", 0, "requests per second (patterns constant and poisson)")
	f.Uint64Var(&c.Seed, "seed", 0, "seed of pattern poisson's arrivals and of --gap-clock's offsets (0: random; the result's notes give it)")
	f.DurationVar(&duration, "duration", loadgen.DefaultDuration.D(), "how long to send (stops at --requests first if given)")
	f.Int64Var(&c.Requests, "requests", 0, "stop after this many requests (0: no limit)")
	f.StringVar(&c.Method, "method", "GET", "request method")
	f.StringArrayVarP(&c.Headers, "header", "H", nil, "extra request header \"Name: value\" (repeatable)")
	f.IntVar(&c.BodySize, "body-size", 0, "request body size in bytes (POST is how a keep-alive race becomes a 502)")
	f.StringVar(&opts.TargetsFile, "targets", "", "send these requests in turn instead of one URL (vegeta's format: METHOD URL, header lines, @BODYFILE; a blank line between; - for stdin), with outcomes per target")
	f.StringVarP(&opts.BodyFile, "body-file", "D", "", "send this file as every request's body (- for stdin; up to 64 MiB), like hey -D and vegeta's @body")
	f.BoolVar(&c.ExpectContinue, "expect-continue", false, "send Expect: 100-continue and wait for it before the body")
	f.BoolVarP(&c.Insecure, "insecure", "k", false, "do not verify the server's TLS certificate")
	f.DurationVar(&timeout, "timeout", loadgen.DefaultTimeout.D(), "per-request timeout: no complete response by then is a timeout")
	f.DurationVar(&connectTimeout, "connect-timeout", loadgen.DefaultConnectTimeout.D(), "TCP connect timeout")
	f.DurationVar(&idle, "idle-timeout", 0, "client keep-alive idle timeout: a connection idle longer is replaced, not reused (0: none)")
	f.IntVar(&c.MaxRequestsPerConn, "max-requests-per-conn", 0, "close a connection after this many requests (0: no limit)")
	f.BoolVar(&c.NoKeepAlive, "no-keepalive", false, "one request per connection (Connection: close)")
	f.BoolVar(&h2c, "h2c", false, "--http2 to an http:// URL, said outright: HTTP/2 with prior knowledge over plain TCP (an https:// URL is refused)")
	f.BoolVar(&c.HTTP2, "http2", false, "speak HTTP/2: h2c with prior knowledge to an http:// URL, h2 by ALPN to https://; never sends a refused, reset or GOAWAY'd stream again (classes refused-stream, stream-reset, goaway)")
	f.IntVar(&c.Streams, "streams", 0, "with --http2: requests in flight per connection (default 1); --connections x --streams requests at once")
	f.StringVar(&c.Client, "client", string(loadgen.Checked), "client model: checked (Go, Node, curl), validate-after=DUR (Apache HttpClient 4.5: 2s), naive")
	f.DurationVar(&think, "think-time", 0, "pause between a response and the next request (pattern closed)")
	f.IntVar(&c.BurstSize, "burst-size", 0, "requests per burst (pattern bursts)")
	f.DurationVar(&burstPause, "burst-pause", loadgen.DefaultBurstPause.D(), "pause between bursts (pattern bursts)")
	f.DurationVar(&gapCenter, "gap-center", 0, "gap-sweep: the idle gap to sweep around, e.g. the upstream's idle timeout")
	f.DurationVar(&gapSpread, "gap-spread", 0, "gap-sweep: sweep over center ± spread (default center/20)")
	f.DurationVar(&gapStep, "gap-step", 0, "gap-sweep: step between gaps (default spread/30)")
	f.BoolVar(&c.GapClock, "gap-clock", false, "gap-sweep: start request n of each connection at n × center ± a random offset within spread (--seed), keeping the connections in step")
	f.DurationVar(&grace, "grace", loadgen.DefaultGrace.D(), "on interrupt, how long in-flight requests may take to finish")
	f.StringVarP(&opts.Out, "out", "o", "", "write the result JSON here (atomically), and checkpoints while the run goes")
	f.DurationVar(&opts.CheckpointInterval, "checkpoint-interval", soak.DefaultInterval,
		"rewrite --out with the result so far (marked partial) this often; 0: only at the end")
	f.StringVar(&opts.Hlog, "hlog", "", "write per-interval latency histograms per class here (HdrHistogram log format)")
	f.StringVar(&opts.MetricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics while the run goes, e.g. 127.0.0.1:9464")
	f.DurationVar(&opts.MetricsLinger, "metrics-linger", 0, "after the run, keep serving the final metrics this long (a scrape interval or two) so the last requests are scraped; a signal ends it")
	f.StringVar(&opts.Shard, "shard", "", "be shard I/N of a load split over N machines: this one sends its part of --rate, --connections, --requests")
	f.StringVar(&opts.RunID, "run-id", "", "the run's id, the same for all its shards (required with --shard; default: a random one)")
	f.BoolVar(&opts.LogResult, "log-result", false, "also print the result on stdout as a block that merge --from-logs reads from kubectl logs")
	f.StringVar(&opts.Resume, "resume", "", "continue the run whose partial result (a checkpoint) FILE is, as its next segment (also done when --out is one)")
	f.StringVar(&opts.OriginAdmin, "origin-admin", "", "the fault server's admin URL (gatecrash serve --admin): put its counters and fault events in the result")
	f.BoolVar(&opts.Force, "force", false, "let --out and --hlog replace an existing file that is not a gatecrash result or interval log")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// checkLoadOutputs checks, before the first request, that the result and the interval log
// can be written where asked: a run of hours must not end with nothing saved. A resumed
// segment goes on with the interval log its run left (resuming).
func checkLoadOutputs(out, hlog string, force bool) error {
	var errs []error
	if out != "" {
		errs = append(errs, files.Check(out, "--out", results.FileKind, force))
	}
	if hlog != "" {
		if out != "" && sameFile(out, hlog) {
			errs = append(errs, fmt.Errorf("--hlog: %s is the --out file too; give them different paths", hlog))
		} else {
			errs = append(errs, files.Check(hlog, "--hlog", results.IntervalLogKind, force))
		}
	}
	return errors.Join(errs...)
}

func classList() string {
	var names []string
	for _, c := range results.Classes() {
		names = append(names, c.String())
	}
	return strings.Join(names, ", ")
}

func runLoad(ctx context.Context, opts *LoadOptions) error {
	var lopts []loadgen.Option
	var bars *progressBars
	if opts.Progress {
		bars = newProgressBars(opts.Stderr)
		lopts = append(lopts, loadgen.WithObserver(200*time.Millisecond, func(p loadgen.Progress) { bars.observe("load", p) }))
	}
	run, out, prev, err := planSegment(opts)
	if err != nil {
		return errext.UsageError(err)
	}
	if err := checkLoadOutputs(out, opts.Hlog, opts.Force); err != nil {
		return errext.UsageError(err)
	}
	if run.Segment > 0 {
		fmt.Fprintf(opts.Stderr, "resuming run %s as segment %d (%s, %d requests done before); writing %s\n", run.ID, run.Segment,
			time.Duration(run.BeforeSeconds).Round(time.Millisecond), run.BeforeRequests, out)
	}
	opts.Out = out
	live := &loadgen.Live{}
	lopts = append(lopts, loadgen.WithLive(live), loadgen.WithRun(run),
		loadgen.WithWarnings(func(msg string) { fmt.Fprintf(opts.Stderr, "warning: %s\n", msg) }))
	watched := &loadgen.Watched{Live: live}
	var admin *faultserver.Watch
	if opts.OriginAdmin != "" {
		var err error
		if admin, err = watchOriginAdmin(ctx, opts.OriginAdmin); err != nil {
			return errext.UsageError(fmt.Errorf("--origin-admin: %w", err))
		}
		watched.Add = func(r *results.Result) {
			r.Origin, _ = admin.Truth(ctx) // a checkpoint without the origin's view is still one
		}
	}
	snapshot := watched.Snapshot
	if opts.MetricsListen != "" {
		reg := &metrics.Registry{Version: versionString(), Labels: map[string]string{"run_id": run.ID, "shard": strconv.Itoa(run.Shard)}}
		reg.Set(metrics.Source{Run: run, Snapshot: snapshot, Gauges: live.Gauges})
		stop, err := serveMetrics(opts.MetricsListen, reg, opts.Stderr)
		if err != nil {
			return err
		}
		defer func() {
			if opts.MetricsLinger > 0 && ctx.Err() == nil {
				fmt.Fprintf(opts.Stderr, "metrics: serving the final figures for %s more (--metrics-linger)\n", opts.MetricsLinger)
				ctxwait.Sleep(ctx, opts.MetricsLinger)
			}
			stop()
		}()
	}
	keep, err := soak.Start(soak.Options{Checkpoint: opts.Out, Hlog: opts.Hlog, Resumes: prev, Interval: opts.CheckpointInterval,
		Log: opts.Stderr}, snapshot)
	if err != nil {
		return errext.UsageError(fmt.Errorf("--hlog: %w", err))
	}
	res, err := loadgen.Run(ctx, opts.Config, lopts...)
	if bars != nil {
		bars.wait()
	}
	if admin != nil && res != nil {
		// Not under ctx: an interrupted run still takes the origin's truth.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		var terr error
		if res.Origin, terr = admin.Truth(tctx); terr != nil {
			fmt.Fprintf(opts.Stderr, "warning: the result has no origin ground truth: --origin-admin: %v\n", terr)
		}
		cancel()
	}
	if res != nil {
		watched.Finish(res)
	}
	if keepErr := keep.Finish(res); keepErr != nil && res != nil {
		fmt.Fprintf(opts.Stderr, "warning: %v\n", keepErr)
	}
	if err != nil {
		if errors.Is(err, loadgen.ErrInvalidConfig) {
			return errext.UsageError(flagErrors(err))
		}
		return err
	}
	if err := results.WriteSummary(opts.Stdout, res); err != nil {
		return err
	}
	if opts.LogResult {
		if err := results.WriteLogBlock(opts.Stdout, res); err != nil {
			return err
		}
	}
	if opts.Out != "" {
		if err := res.WriteFile(opts.Out); err != nil {
			return err
		}
		fmt.Fprintf(opts.Stderr, "result written to %s\n", opts.Out)
		if run.Segment > 0 {
			fmt.Fprintf(opts.Stderr, "this is segment %d of run %s: merge it with the earlier segments' files for the whole run "+
				"(gatecrash merge SEGMENT... --out FILE)\n", run.Segment, run.ID)
		}
	}
	if res.Interrupted {
		return errInterrupted
	}
	return nil
}

// flagErrors rewrites loadgen's field errors in terms of this command's flags.
func flagErrors(err error) error {
	var lines []string
	for _, e := range errext.Flatten(err) {
		var fe *loadgen.FieldError
		if errors.As(e, &fe) {
			switch fe.Field {
			case "url":
				lines = append(lines, "URL: "+fe.Msg)
			case "headers":
				lines = append(lines, "--header: "+fe.Msg) // the one flag not named like its key
			default:
				lines = append(lines, "--"+fe.Field+": "+fe.Msg)
			}
		}
	}
	if len(lines) == 0 {
		return err
	}
	return errors.New(strings.Join(lines, "\n  "))
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// checkSoakFlags checks the flags that keep a long run's figures.
func checkSoakFlags(fs *pflag.FlagSet, out string, interval time.Duration) error {
	switch {
	case interval < 0:
		return fmt.Errorf("--checkpoint-interval: %s is negative; give a duration such as 10s, or 0 to write only at the end", interval)
	case fs.Changed("checkpoint-interval") && interval > 0 && out == "":
		return errors.New("--checkpoint-interval: checkpoints are written to --out; give --out FILE")
	case interval > 0 && interval < 100*time.Millisecond:
		return fmt.Errorf("--checkpoint-interval: %s is shorter than 100ms; each checkpoint rewrites the whole result", interval)
	}
	return nil
}

// serveMetrics serves reg on addr and says where on log.
func serveMetrics(addr string, reg *metrics.Registry, log io.Writer) (func(), error) {
	at, stop, err := metrics.Serve(addr, reg)
	if err != nil {
		return nil, errext.UsageError(fmt.Errorf("--metrics-listen: %w", err))
	}
	fmt.Fprintf(log, "metrics: http://%s/metrics\n", at)
	return stop, nil
}

// readTargets reads a targets file (loadgen.ParseTargets; "-": stdin). A body's @PATH is
// relative to the file's folder (to the working folder for stdin); each body, like the file,
// must be a regular file within its size cap.
func readTargets(path string, stdin io.Reader) ([]loadgen.Request, error) {
	src, err := files.Read(path, "--targets", loadgen.MaxTargetsFileSize, stdin)
	if err != nil {
		return nil, err
	}
	dir, name := filepath.Dir(path), path
	if path == files.Stdin {
		dir, name = ".", "--targets (stdin)"
	}
	return loadgen.ParseTargets(src, name, func(p string) ([]byte, error) {
		if p == "" {
			return nil, errors.New("@ without a file name")
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return files.Read(p, "@"+p, loadgen.MaxBodySize, nil)
	})
}
