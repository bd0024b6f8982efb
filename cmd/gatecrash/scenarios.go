package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/scenarios"
)

func newScenariosCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenarios",
		Short: "List, show and validate scenarios",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			for _, name := range scenarios.BuiltinNames() {
				sc, err := scenarios.Builtin(name)
				if err != nil {
					return fmt.Errorf("built-in scenario %s is broken: %w", name, err)
				}
				fmt.Fprintf(tw, "%s\t%s\n", name, firstLine(sc.Description))
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "show NAME",
		Short: "Print a built-in scenario's YAML (to copy and edit)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := scenarios.Builtin(args[0])
			if err != nil {
				return errext.UsageError(err)
			}
			_, err = cmd.OutOrStdout().Write(sc.Source)
			return err
		},
	})
	cmd.AddCommand(newRenderCmd())
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a scenario file and report every problem with its line",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := scenarios.LoadFile(args[0])
			if err != nil {
				return errext.UsageError(err)
			}
			// A proxy template of the user's own is rendered too (with placeholder addresses):
			// a template that does not render is not a valid scenario.
			var errs []error
			for _, v := range sc.Variants {
				if v.Proxy.Template == "" || v.Proxy.Kind == proxy.External {
					continue
				}
				if _, err := sc.RenderProxy(v.Name, "", []string{"127.0.0.1:1"}, "127.0.0.1:2", os.TempDir(), os.TempDir()); err != nil {
					errs = append(errs, fmt.Errorf("%s: variant %s: %w", args[0], v.Name, err))
				}
			}
			if err := errors.Join(errs...); err != nil {
				return errext.UsageError(err)
			}
			names := make([]string, len(sc.Variants))
			for i, v := range sc.Variants {
				names[i] = v.Name
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: scenario %s is valid (variants: %s)\n", args[0], sc.Name, strings.Join(names, ", "))
			return nil
		},
	})
	return cmd
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// newRenderCmd renders a scenario variant's proxy config for a proxy gatecrash does not start:
// a container (docker-compose, Kubernetes) or the staging proxy itself.
func newRenderCmd() *cobra.Command {
	var variant, kind, listen, dir, logDir string
	var origins []string
	cmd := &cobra.Command{
		Use:   "render SCENARIO|FILE --variant NAME --origin HOST:PORT",
		Short: "Print a variant's proxy config, rendered from gatecrash's templates, for a proxy run elsewhere",
		Long: `Print the config gatecrash would give the proxy of a scenario variant, pointed at --origin and
listening on --listen, for a proxy you run yourself: in a container (the top-level
docker-compose.yml uses it), or your staging proxy. --dir is the proxy's temp folder (pid
file, temp paths) and --log-dir its log folder, as that proxy sees them.`,
		Example: `  gatecrash scenarios render keepalive-race --variant default --proxy nginx --origin origin:9001 \
      --listen 0.0.0.0:8080 --dir /tmp --log-dir /var/log/nginx > nginx.conf`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := scenarios.Load(args[0])
			if err != nil {
				return errext.UsageError(err)
			}
			if len(origins) == 0 {
				return errext.UsageError(fmt.Errorf("--origin: missing; give the address the proxy reaches the origin at, e.g. origin:9001"))
			}
			var k proxy.Kind
			if kind != "" {
				if k, err = proxy.ParseKind(kind); err != nil {
					return errext.UsageError(fmt.Errorf("--proxy: %w", err))
				}
			}
			conf, err := sc.RenderProxy(variant, k, origins, listen, dir, logDir)
			if err != nil {
				return errext.UsageError(err)
			}
			_, err = io.WriteString(cmd.OutOrStdout(), conf)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&variant, "variant", "default", "the variant whose proxy config to render")
	f.StringVar(&kind, "proxy", "", "proxy kind: "+proxy.StartedNames()+" (default: the variant's)")
	f.StringArrayVar(&origins, "origin", nil, "origin address HOST:PORT the proxy forwards to (repeatable)")
	f.StringVar(&listen, "listen", "0.0.0.0:8080", "address the proxy listens on")
	f.StringVar(&dir, "dir", "/tmp", "the proxy's temp folder as it sees it")
	f.StringVar(&logDir, "log-dir", "/var/log/gatecrash", "the proxy's log folder as it sees it")
	return cmd
}
