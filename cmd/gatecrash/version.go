package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the gatecrash version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "gatecrash %s\n", cmd.Root().Version)
			return err
		},
	}
}

// versionString is the version stamped at build time, else the module version go install
// recorded, else "dev".
func versionString() string {
	if bi, ok := debug.ReadBuildInfo(); ok && version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// commandLine is this process's command line as a shell would take it again: "gatecrash"
// and the arguments, each quoted when it holds anything but plain characters. Results and
// documents record it, so that a reader can run the same thing.
func commandLine() string { return shellLine(os.Args[1:]) }

func shellLine(args []string) string {
	out := []string{"gatecrash"}
	for _, a := range args {
		plain := a != ""
		for _, r := range a {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r)) {
				plain = false
				break
			}
		}
		if !plain {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}
