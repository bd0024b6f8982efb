package scenarios

import (
	"fmt"
	"io"
	"strings"

	"github.com/gatecrash/gatecrash/results"
)

// WriteComparison writes a run's variants side by side (results.WriteComparison) under a
// heading, with the threshold verdicts. markdown wraps it for report.md.
func WriteComparison(w io.Writer, run *Run, markdown bool) {
	var b strings.Builder
	if markdown {
		fmt.Fprintf(&b, "# gatecrash run: %s\n\n%s\n\nProxy: %s. Run folder: `%s`.\n\n```\n", run.Scenario.Name, run.Scenario.Description, run.Proxy, run.Dir)
	} else {
		fmt.Fprintf(&b, "\nscenario %s, proxy %s\n\n", run.Scenario.Name, run.Proxy)
	}
	if len(run.Results) > 0 {
		results.WriteComparison(&b, run.Results)
	}
	if len(run.Skipped) > 0 {
		b.WriteString("\nnot run (do not apply to this proxy):\n")
		for _, sk := range run.Skipped {
			fmt.Fprintf(&b, "  %s: %s\n", sk.Variant, sk.Reason)
		}
	}
	if len(run.Verdicts) > 0 {
		b.WriteString("\nthresholds:\n")
		for _, v := range run.Verdicts {
			fmt.Fprintf(&b, "  %s\n", v)
		}
	}
	if markdown {
		b.WriteString("```\n")
	}
	io.WriteString(w, b.String())
}
