package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/link"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/proxy"
)

// ServeOptions is what `gatecrash serve` was asked to do.
type ServeOptions struct {
	Listen, TLSListen, Admin string
	ConfigFile               string
	Faults                   []string
	TLSCert, TLSKey          string
	// Overrides of the config file, applied only when the flag was given.
	Seed        *uint64
	Status      *int
	BodySize    *int
	Chunked     *bool
	HTTP2       *bool
	IdleTimeout *time.Duration
	// HeaderFaults is "on" or "off" when --header-faults was given.
	HeaderFaults string
	// MaxConnections bounds the connections open at once (0: none).
	MaxConnections int
	// IOUring: the steady path through an io_uring (--io-uring).
	IOUring bool
	// Link puts a delayed link in front of each listener (zero latency: none).
	Link link.Config
	// Upstream makes the server a relay in front of the app at this URL ("": none).
	Upstream        string
	UpstreamOptions faultserver.UpstreamOptions

	Out, Err io.Writer
	changed  map[string]bool // flags given on the command line
}

func newServeCmd(runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{}
	var seed uint64
	var status, bodySize int
	var chunked, http2 bool
	var idle time.Duration
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the fault-injecting origin server",
		Long: `Run the fault-injecting origin: an HTTP/1.1 (and TLS) server that answers normally
and misbehaves exactly as its fault plan says, counting every fault it injects.

Fault kinds (parameters as k=v after a colon; every kind also takes the selectors
probability, every, nth and match):
  idle-close       timeout, jitter, close=fin|rst, mode=close|serve
  close-on-reuse   min-idle, after-bytes, close
  fin-mid-request  after-bytes, close, half-close
  rst-headers      after-bytes
  cut-body         body-size, after-bytes, chunked, close
  no-response      close
  tls-stall        delay (0: never answer the ClientHello)
  delay            head-delay, body-rate
  status           code
HTTP/2 (--http2: h2c with prior knowledge beside HTTP/1.1 on the same port, and h2 by ALPN on
the TLS listener; selectors count streams, match reads :path or a header field):
  goaway-idle      timeout, jitter, close-after, close (GOAWAY, then the close, once no
                   stream has been open for the timeout)
  rst-stream       code=internal-error|refused-stream|cancel, after=before|headers
  goaway-after     streams, last=exact|low, close-after (GOAWAY after the Nth stream)
  close-no-goaway  close (the connection ends, no GOAWAY, the stream unanswered)
  goaway-race      stream, close-after (GOAWAY as the Nth stream opens, leaving it
                   unprocessed; chosen per connection)
  ping-silence     (never answers PING on a chosen connection)
  window-stall     window (never sends WINDOW_UPDATE: uploads stall)
  max-streams      streams, lower-after (SETTINGS_MAX_CONCURRENT_STREAMS; streams past it
                   refused; chosen per connection)
  delay and status act on h2 streams too (delay holds one stream's answer, not the others)

Relay mode: with --upstream http://app:8000 (or https://) the server sits in front of your
own app instead of answering itself. Each connection from the proxy gets its own connection
to the app (opened by its first request), so the app's keep-alive behaviour shows through:
when the app closes an idle connection, the relay closes the proxy's. Requests and answers
stream through unchanged, and the faults act on the app's real answers:
  rst-headers, cut-body, delay   the app handles the request; its answer is cut, reset or
                                 slowed on the way back (cut-body cuts the app's own body)
  no-response                    the app handles the request (forward=false: it never sees
                                 it); its answer is dropped
  fin-mid-request                the app sees the first after-bytes bytes, then the close
  status, close-on-reuse         the app never sees the request
  idle-close, tls-stall          act on the proxy's connection; the app's one closes with it
The app's own failures (refused, reset, closed early, silent, garbage) are counted apart as
app errors, never as injected faults; a refused or silent app gets the proxy a 502 or 504.
The relay speaks HTTP/1.1 on both sides (--http2 is refused with --upstream).

A request may choose its own fault: X-Gatecrash-Fault: rst-headers;after-bytes=5
(--header-faults off refuses that; header-chosen faults are held to header-limits in the
config: 1 MiB of body and 1 m of waiting by default.)

On SIGINT or SIGTERM the server shuts down and prints its final counters.`,
		Example: `  gatecrash serve --fault idle-close:timeout=5s
  gatecrash serve --listen 127.0.0.1:9001 --tls-listen 127.0.0.1:9443 \
      --fault rst-headers:probability=0.001,after-bytes=20
  gatecrash serve --config faults.yaml
  gatecrash serve --upstream http://127.0.0.1:8000 --fault cut-body:probability=0.000001
  curl -s 127.0.0.1:9002/stats`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if f.Changed("seed") {
				opts.Seed = &seed
			}
			if f.Changed("status") {
				opts.Status = &status
			}
			if f.Changed("body-size") {
				opts.BodySize = &bodySize
			}
			if f.Changed("http2") {
				opts.HTTP2 = &http2
			}
			if f.Changed("chunked") {
				opts.Chunked = &chunked
			}
			if f.Changed("idle-timeout") {
				opts.IdleTimeout = &idle
			}
			opts.changed = map[string]bool{}
			f.Visit(func(fl *pflag.Flag) { opts.changed[fl.Name] = true })
			opts.Out, opts.Err = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runServe(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:9001", "plain HTTP listen address (\"\" for none)")
	f.StringVar(&opts.TLSListen, "tls-listen", "", "TLS listen address, e.g. 127.0.0.1:9443 (default none)")
	f.StringVar(&opts.Admin, "admin", "127.0.0.1:9002", "admin listen address for /stats, /metrics, /faults (\"\" for none)")
	f.StringVar(&opts.ConfigFile, "config", "", "YAML fault config file (see README); --fault flags are added after its faults")
	f.StringArrayVar(&opts.Faults, "fault", nil, "fault KIND[:k=v,...] (repeatable), e.g. idle-close:timeout=5s")
	f.StringVar(&opts.TLSCert, "tls-cert", "", "PEM certificate for the TLS listener (default: self-signed, generated at start)")
	f.StringVar(&opts.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	f.Uint64Var(&seed, "seed", 0, "seed for probability selectors and jitter (overrides the config file)")
	f.IntVar(&status, "status", faultserver.DefaultStatus, "status of the normal response")
	f.IntVar(&bodySize, "body-size", faultserver.DefaultBodySize, "body size of the normal response in bytes")
	f.BoolVar(&chunked, "chunked", false, "send the normal body with Transfer-Encoding: chunked")
	f.BoolVar(&http2, "http2", false, "also serve HTTP/2: h2c with prior knowledge on the listener, h2 by ALPN on the TLS one (config: http2: true)")
	f.DurationVar(&idle, "idle-timeout", 0, "the server's own keep-alive timeout (0: none)")
	f.IntVar(&opts.MaxConnections, "max-connections", faultserver.DefaultMaxConnections,
		"connections open at once; at the bound new ones wait in the listen backlog (0: no bound)")
	f.DurationVar(&opts.Link.Latency, "link-latency", 0,
		"one-way delay of bytes, FIN and RST between clients and the server, as across a network (e.g. 1ms; 0: none)")
	f.DurationVar(&opts.Link.Jitter, "link-jitter", 0, "uniform jitter on --link-latency (at most the latency)")
	f.StringVar(&opts.Upstream, "upstream", "", "relay to your app at this URL (http://host:port or https://host:port) instead of answering")
	f.BoolVar(&opts.UpstreamOptions.Insecure, "upstream-insecure", false, "do not verify the https upstream's certificate")
	f.StringVar(&opts.UpstreamOptions.CAFile, "upstream-ca", "", "PEM file of CA certificates to verify the https upstream with")
	f.DurationVar(&opts.UpstreamOptions.Timeout, "upstream-timeout", faultserver.DefaultUpstreamTimeout,
		"longest wait for the app to answer or send more of its body; then 504 (or a cut body)")
	f.BoolVar(&opts.IOUring, "io-uring", false, "experimental, Linux: read and answer keep-alive requests no fault takes through one io_uring "+
		"shared by the connections, the relay's app connections too (fewer system calls)")
	f.StringVar(&opts.HeaderFaults, "header-faults", "", "on or off: may a request choose its fault with X-Gatecrash-Fault (default on, or the config's)")
	return cmd
}

// buildServeConfig assembles the fault config from the file and the flags.
func buildServeConfig(opts *ServeOptions) (*faultserver.Config, error) {
	cfg := faultserver.DefaultConfig()
	if opts.ConfigFile != "" {
		c, err := faultserver.LoadConfig(opts.ConfigFile)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if opts.Seed != nil {
		cfg.Seed = *opts.Seed
	}
	if opts.Status != nil {
		cfg.Response.Status = *opts.Status
	}
	if opts.BodySize != nil {
		cfg.Response.BodySize = *opts.BodySize
	}
	if opts.HTTP2 != nil {
		cfg.HTTP2 = *opts.HTTP2
	}
	if opts.Chunked != nil {
		cfg.Response.Chunked = *opts.Chunked
	}
	if opts.IdleTimeout != nil {
		cfg.Limits.IdleTimeout = yamlconf.Duration(*opts.IdleTimeout)
	}
	var errs []error
	switch opts.HeaderFaults {
	case "":
	case "on", "off":
		on := opts.HeaderFaults == "on"
		cfg.FaultHeader = &on
	default:
		errs = append(errs, fmt.Errorf("--header-faults: %q is not allowed; allowed: on, off", opts.HeaderFaults))
	}
	for _, spec := range opts.Faults {
		f, err := faultserver.ParseFaultSpec(spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	if opts.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("--max-connections: %d is not allowed; give a positive bound, or 0 for none", opts.MaxConnections))
	}
	if err := opts.Link.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--link-%w", err))
	} else if opts.Link.Jitter > 0 && opts.Link.Latency == 0 {
		errs = append(errs, errors.New("--link-jitter needs --link-latency"))
	}
	if opts.Upstream != "" {
		for _, name := range []string{"status", "body-size", "chunked"} {
			if opts.changed[name] {
				errs = append(errs, fmt.Errorf("--%s sets the server's own answer; with --upstream the app answers (use a status fault to answer instead of the app)", name))
			}
		}
		if opts.HTTP2 != nil && *opts.HTTP2 {
			errs = append(errs, errors.New("--http2: the relay (--upstream) relays HTTP/1.1 only; an HTTP/2 client would get the fault server's own answers, not your app's"))
		}
		if opts.UpstreamOptions.Timeout <= 0 {
			errs = append(errs, fmt.Errorf("--upstream-timeout: %s is not allowed; give a positive duration, e.g. 2m", opts.UpstreamOptions.Timeout))
		}
	} else if opts.UpstreamOptions.Insecure || opts.UpstreamOptions.CAFile != "" || opts.changed["upstream-timeout"] {
		errs = append(errs, errors.New("--upstream-insecure, --upstream-ca and --upstream-timeout go with --upstream"))
	}
	if (opts.TLSCert == "") != (opts.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together: give both or neither"))
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("flags: %w", err))
	}
	return cfg, errors.Join(errs...)
}

func runServe(ctx context.Context, opts *ServeOptions) error {
	cfg, err := buildServeConfig(opts)
	if err != nil {
		return errext.UsageError(err)
	}
	ro := faultserver.RunOptions{Version: versionString(), Config: cfg, Listen: opts.Listen, TLSListen: opts.TLSListen,
		Admin: opts.Admin, Log: opts.Err, MaxConnections: opts.MaxConnections, IOUring: opts.IOUring}
	if opts.Upstream != "" {
		up, err := faultserver.ParseUpstream(opts.Upstream, opts.UpstreamOptions)
		if err != nil {
			return errext.UsageError(fmt.Errorf("--upstream: %w", err))
		}
		ro.Upstream = up
	}
	if opts.TLSCert != "" {
		cert, err := faultserver.LoadCertificate(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return errext.UsageError(err)
		}
		ro.Certificate = &cert
	}
	if len(cfg.Faults) > 0 {
		kinds := make([]string, len(cfg.Faults))
		for i, f := range cfg.Faults {
			kinds[i] = faultserver.KindOf(f)
		}
		fmt.Fprintf(opts.Err, "faults: %s\n", strings.Join(kinds, ", "))
	}
	if opts.Link.Latency > 0 {
		// The listeners are the link's; the server itself listens on loopback ports behind it.
		stopLinks, err := startLinks(ctx, &ro, opts)
		if err != nil {
			return err
		}
		defer stopLinks()
	}
	stats, err := faultserver.Run(ctx, ro)
	if errors.Is(err, faultserver.ErrListen) {
		return err // nothing was served: no counters to show
	}
	fmt.Fprintln(opts.Out, "final ground-truth counters:")
	stats.WriteText(opts.Out)
	return err
}

// startLinks listens on the HTTP and TLS addresses with a delayed link each, and moves the
// fault server's own listeners to free loopback ports behind them.
func startLinks(ctx context.Context, ro *faultserver.RunOptions, opts *ServeOptions) (stop func(), err error) {
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop = func() { cancel(); wg.Wait() }
	for _, addr := range []*string{&ro.Listen, &ro.TLSListen} {
		if *addr == "" {
			continue
		}
		inner, err := proxy.FreeListenAddr()
		if err != nil {
			stop()
			return nil, err
		}
		r, err := link.Listen(*addr, inner, opts.Link)
		if err != nil {
			stop()
			return nil, fmt.Errorf("%w: link listener on %s: %w", faultserver.ErrListen, *addr, err)
		}
		fmt.Fprintf(opts.Err, "link: %s -> the server at %s, %s\n", r.Addr(), inner, opts.Link)
		*addr = inner
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Serve(lctx); err != nil {
				fmt.Fprintf(opts.Err, "link: %v\n", err)
			}
		}()
	}
	return stop, nil
}
