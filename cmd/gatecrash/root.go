package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatecrash/gatecrash/internal/errext"
)

// Main runs the CLI with args and returns the process exit code (internal/errext's codes, as
// the README's "Exit codes" and each command's --help list them).
// The first SIGINT, SIGTERM or SIGHUP (a closed terminal, a dropped ssh session) cancels the
// command's context so it can shut down and write what it has; a second one kills the
// process at once.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second signal terminates immediately
	}()
	return run(ctx, args, os.Stdout, os.Stderr)
}

// run executes one command line; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "gatecrash:", err)
	}
	return int(errext.CodeOf(err))
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "gatecrash",
		Short: "Reproduce and measure the rare 502s, resets and hangs between a proxy and its upstream",
		Long: `gatecrash reproduces, in seconds, the connection-level failures that turn into
502 Bad Gateway, 504 or a connection closed with no response behind a reverse proxy:
keep-alive idle races, closes mid-request, resets mid-response, TLS handshake stalls.

It has a fault-injecting origin (serve) that misbehaves at an exact byte and counts
every fault it injects.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// With Args set, an unknown subcommand reaches usageArgs (exit 2) instead of cobra's
		// own untyped error.
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	// --version on the root, the same line as `gatecrash version`.
	root.Version = fmt.Sprintf("%s (%s %s/%s)", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	root.SetVersionTemplate("gatecrash {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return errext.UsageError(fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	root.AddCommand(newVersionCmd(), newProbeCmd(), newServeCmd(nil), newLoadCmd(nil), newRunCmd(nil), newScenariosCmd(),
		newReportCmd(nil), newCompareCmd(nil), newMergeCmd(nil), newCheckCmd(nil), newPredictCmd(),
		newHuntCmd(), newMatrixCmd(), newAdviseCmd(), newManCmd())
	return root
}

// usageArgs wraps a cobra positional-argument check so that a wrong count exits with 2.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return errext.UsageError(fmt.Errorf("%w (usage: %s)", err, cmd.UseLine()))
		}
		return nil
	}
}

// errInterrupted is returned by commands stopped by a signal after writing what they had.
var errInterrupted = errext.WithExitCode(errors.New("interrupted"), errext.Interrupted)
