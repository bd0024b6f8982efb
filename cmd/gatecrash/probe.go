package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/probe"
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
	cmd.AddCommand(newProbeOriginCmd())
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
