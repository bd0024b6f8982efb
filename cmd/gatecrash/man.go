package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/gatecrash/gatecrash/internal/errext"
)

// newManCmd writes the man pages of every command (cobra/doc), for `make man` and packagers.
// Hidden: it is for building the distribution, not for running a test.
func newManCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages of every command into DIR (gatecrash.1, gatecrash-load.1, ...)",
		Hidden: true,
		Args:   usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return errext.UsageError(fmt.Errorf("man: %w", err))
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // the pages are the same whenever they are made
			header := &doc.GenManHeader{Title: "GATECRASH", Section: "1", Source: "gatecrash " + versionString(), Manual: "gatecrash manual"}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "man pages written to %s\n", args[0])
			return nil
		},
	}
}
