package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/probe"
	"github.com/gatecrash/gatecrash/proxy"
)

func newProbeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "probe origin|proxy|chain",
		Short: "Measure each hop's idle window from outside and name the pair that races",
		Long: `Measure, from outside and in seconds, what causes the keep-alive race in production:

  probe origin URL   how long the origin keeps an idle keep-alive connection before it
                     closes it (FIN or RST), its request cap, and whether a request sent just
                     before that moment is answered or lost
  probe proxy        how long a proxy keeps idle upstream connections, how many it pools, in
                     which order it reuses them, and whether it retries a request whose
                     upstream connection failed (GET and POST)
  probe chain        for each adjacent pair of hops, whether the one that reuses connections
                     keeps them longer than the next one does: RACE (exit 3) or safe`,
		Args: usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newProbeOriginCmd(), newProbeProxyCmd(), newProbeChainCmd())
	return cmd
}

func newProbeOriginCmd() *cobra.Command {
	var o probe.OriginOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "origin URL",
		Short: "Measure an origin's keep-alive idle timeout, close style, request cap and race window",
		Long: `Open several keep-alive connections to the origin, send one request on each, and time
when the origin closes each idle connection (FIN or RST), to the millisecond, up to
--max-wait. Then look for a per-connection request cap, and send requests just before the
measured close on fresh idle connections to see which are answered and which are lost.

The time is measured from the end of the response as this host sees it to the close as
this host sees it; across a network both ends are late by the same half round trip, so the
figure is the origin's own timer.`,
		Example: `  gatecrash probe origin http://127.0.0.1:8000/
  gatecrash probe origin https://app.internal:8443/health --insecure --json > uvicorn.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.URL = args[0]
			if o.Connections < 1 || o.Connections > 100 {
				return errext.UsageError(fmt.Errorf("--connections: %d is not allowed; allowed: 1 to 100", o.Connections))
			}
			if o.MaxWait <= 0 {
				return errext.UsageError(fmt.Errorf("--max-wait: %v is not allowed; give a positive duration", o.MaxWait))
			}
			o.Log = cmd.ErrOrStderr()
			rep, err := probe.Origin(cmd.Context(), o)
			if err != nil && rep == nil {
				return errext.UsageError(err)
			}
			if rep != nil {
				if werr := writeProbe(cmd.OutOrStdout(), rep, asJSON, rep.WriteText); werr != nil {
					return werr
				}
			}
			return interrupted(cmd, err)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Connections, "connections", 8, "idle connections to watch")
	f.DurationVar(&o.Stagger, "stagger", 125*time.Millisecond, "time between the connections' requests (spread them over a server's timer tick)")
	f.DurationVar(&o.MaxWait, "max-wait", 10*time.Minute, "longest wait for the origin to close an idle connection")
	f.StringVar(&o.Method, "method", "GET", "request method")
	f.BoolVar(&o.Insecure, "insecure", false, "do not verify the origin's TLS certificate")
	f.IntVar(&o.MaxRequests, "max-requests", 1000, "requests to send on one connection looking for a request cap (negative: skip)")
	f.BoolVar(&o.NoRace, "no-race", false, "skip the race-window step (requests sent just before the close)")
	f.BoolVar(&o.HTTP2, "http2", false, "probe over HTTP/2 (h2c with prior knowledge for http://, h2 by ALPN for https://): the idle GOAWAY, the stream cap and SETTINGS_MAX_CONCURRENT_STREAMS")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (for tools, and for probe chain --hop NAME=@FILE)")
	return cmd
}

// writeProbe prints a probe report as text or JSON.
func writeProbe(w io.Writer, rep any, asJSON bool, text func(io.Writer)) error {
	if !asJSON {
		text(w)
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// interrupted turns a probe's context error into the interrupted exit code.
func interrupted(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	if cmd.Context().Err() != nil {
		return errext.WithExitCode(errors.New("interrupted: the report above holds what was measured"), errext.Interrupted)
	}
	return err
}

func newProbeProxyCmd() *cobra.Command {
	var o probe.ProxyOptions
	var kind string
	var vars []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "proxy (--proxy KIND [--var k=v]... | --url URL --upstream ADDR)",
		Short: "Measure a proxy's upstream idle window, pooling, reuse order and retries",
		Long: `Start an upstream (the fault server, answering normally) and send requests through the
proxy to it, then watch the upstream side: how many connections the proxy pools, in which
order it reuses them, how long it keeps them idle before it closes them itself (or "never,
within --max-wait"), and whether it retries a GET and a POST whose pooled upstream
connection the upstream closes as the request arrives (the keep-alive race, made certain).
With --http2 the upstream speaks h2c (and HTTP/1.1) and a built-in proxy is configured for
HTTP/2 upstreams: the same questions of its h2 connections, and the race is HTTP/2's — the
upstream sends GOAWAY as the request's stream opens, naming the stream before it, so the
stream was not processed and the proxy may send it again.

Either start a built-in proxy (--proxy nginx|haproxy|caddy|apache|embedded, its template
variables with --var), or probe your own: run the upstream at a fixed address with
--upstream, point your proxy at it, and give the proxy's --url.`,
		Example: `  gatecrash probe proxy --proxy nginx --var idle_timeout=60s
  gatecrash probe proxy --url http://127.0.0.1:8080 --upstream 127.0.0.1:9001 --max-wait 2m`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind != "" {
				k, err := proxy.ParseKind(kind)
				if err != nil || k == proxy.External {
					return errext.UsageError(fmt.Errorf("--proxy: %q is not allowed; allowed: %s "+
						"(for your own proxy give --url and --upstream)", kind, proxy.StartedNames()))
				}
				o.Kind = k
			}
			if (o.Kind == "") == (o.URL == "") {
				return errext.UsageError(errors.New("give --proxy KIND (a built-in proxy to start) or --url (your proxy), one of them"))
			}
			if o.URL != "" && o.Upstream == "" {
				return errext.UsageError(errors.New("--upstream: missing; with --url, give the address your proxy forwards to, e.g. 127.0.0.1:9001"))
			}
			var err error
			if o.Vars, err = parseVars(vars); err != nil {
				return errext.UsageError(err)
			}
			if o.Connections < 1 || o.Connections > 64 {
				return errext.UsageError(fmt.Errorf("--connections: %d is not allowed; allowed: 1 to 64", o.Connections))
			}
			if o.MaxWait <= 0 {
				return errext.UsageError(fmt.Errorf("--max-wait: %v is not allowed; give a positive duration", o.MaxWait))
			}
			o.Log = cmd.ErrOrStderr()
			if o.URL != "" {
				o.Ready = func(up string) { fmt.Fprintf(o.Log, "upstream listening on %s; sending through %s\n", up, o.URL) }
			}
			rep, err := probe.Proxy(cmd.Context(), o)
			if err != nil && (rep == nil || rep.Opened == 0) {
				if errors.Is(err, proxy.ErrBinaryNotFound) || rep == nil {
					return errext.UsageError(err)
				}
				return err
			}
			if werr := writeProbe(cmd.OutOrStdout(), rep, asJSON, rep.WriteText); werr != nil {
				return werr
			}
			return interrupted(cmd, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "proxy", "", "built-in proxy to start: "+proxy.StartedNames())
	f.StringArrayVar(&vars, "var", nil, "template variable of --proxy, k=v (repeatable), e.g. idle_timeout=4s")
	f.StringVar(&o.Binary, "proxy-binary", "", "path of the --proxy binary")
	f.StringVar(&o.URL, "url", "", "where your proxy listens, e.g. http://127.0.0.1:8080")
	f.StringVar(&o.Upstream, "upstream", "", "where the probe's upstream listens (your proxy forwards here; default with --proxy: a free loopback port)")
	f.IntVar(&o.Connections, "connections", 4, "requests sent at once (upstream connections the proxy needs)")
	f.DurationVar(&o.MaxWait, "max-wait", 10*time.Minute, "longest wait for the proxy to close its idle upstream connections")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (for tools, and for probe chain --hop NAME=@FILE)")
	f.BoolVar(&o.HTTP2, "http2", false, "the upstream speaks h2c (beside HTTP/1.1) and --proxy is configured for it (upstream_proto: h2c): "+
		"the proxy's h2 pooling and idle window, and whether it sends again a stream a GOAWAY left unprocessed")
	return cmd
}

// parseVars turns k=v flags into a map.
func parseVars(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--var %q: give name=value, e.g. idle_timeout=4s", kv)
		}
		out[k] = v
	}
	return out, nil
}

// chainOf parses --hop specs, client side first, and judges each adjacent pair.
func chainOf(specs []string) ([]probe.PairVerdict, error) {
	var hops []probe.Hop
	for i, s := range specs {
		h, err := probe.ParseHop(s, i == len(specs)-1)
		if err != nil {
			return nil, errext.UsageError(err)
		}
		hops = append(hops, h)
	}
	vs, err := probe.Chain(hops)
	if err != nil {
		return nil, errext.UsageError(fmt.Errorf("--hop: %w", err))
	}
	return vs, nil
}

func newProbeChainCmd() *cobra.Command {
	var specs []string
	cmd := &cobra.Command{
		Use:   "chain --hop NAME=WINDOW...",
		Short: "Say, for each adjacent pair of hops, whether they race: exit 3 when one does",
		Long: `Judge a chain of hops, client side first, the origin last: for each adjacent pair, the hop
that reuses connections must drop idle ones before the next hop closes them. Each --hop is
NAME=WINDOW, where WINDOW is

  60s                   the hop's idle window towards the next hop (for the last hop: its
                        own idle timeout); "never" for no limit
  keep=4s,close=75s     a hop in the middle: its upstream window and its own idle timeout
  @probe.json           what gatecrash probe origin|proxy --json measured

Known names (nginx, haproxy, caddy, apache, varnish, trafficserver, nghttpx, embedded, node,
uvicorn, gunicorn, tomcat, ...) get the setting to change named in the verdict. Exit code 3
when any pair races: a CI gate.`,
		Example: `  gatecrash probe chain --hop nginx=60s --hop uvicorn=5s
  gatecrash probe chain --hop alb=60s --hop nginx=keep=4s,close=75s --hop gunicorn=@gunicorn.json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			vs, err := chainOf(specs)
			if err != nil {
				return err
			}
			if probe.WriteChain(cmd.OutOrStdout(), vs) {
				return errext.WithExitCode(errors.New("a pair of hops races (see above)"), errext.ThresholdsNotMet)
			}
			for _, v := range vs {
				if v.Unknown {
					// A gate with nothing to judge must not pass.
					return errext.UsageError(fmt.Errorf("--hop: %w: %s", probe.ErrUnknown, v.Text))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&specs, "hop", nil, "a hop, client side first: NAME=60s, NAME=keep=D,close=D or NAME=@probe.json (repeatable)")
	return cmd
}
