package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatecrash/gatecrash/matrix"
)

// The generated docs/conformance.json agrees with the pinned cells (which make matrix-check
// confirms against the real proxies), and the README's excerpt of the matrix is the generated
// file's, line for line.
func TestConformanceDocAgreesWithPins(t *testing.T) {
	t.Parallel()
	pins, err := readPins("../../docs/conformance-pins.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) < 20 {
		t.Fatalf("only %d pins", len(pins))
	}
	b, err := os.ReadFile("../../docs/conformance.json")
	if err != nil {
		t.Fatal(err)
	}
	var m matrix.Matrix
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if diffs := m.CheckPins(pins); len(diffs) > 0 {
		t.Fatalf("docs/conformance.json disagrees with docs/conformance-pins.yaml (run make matrix):\n%s", strings.Join(diffs, "\n"))
	}
}

func TestReadmeExcerptIsTheGeneratedMatrix(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/conformance.md")
	if err != nil {
		t.Fatal(err)
	}
	const open, end = "<!-- conformance excerpt: lines of docs/conformance.md -->", "<!-- /conformance excerpt -->"
	s := string(readme)
	i, j := strings.Index(s, open), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README has no conformance excerpt between %q and %q", open, end)
	}
	lines := 0
	for _, line := range strings.Split(s[i+len(open):j], "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		lines++
		if !strings.Contains(string(doc), line+"\n") {
			t.Errorf("README excerpt line not in docs/conformance.md (run make matrix, then copy it again):\n%s", line)
		}
	}
	if lines < 4 {
		t.Fatalf("the excerpt has %d lines", lines)
	}
}

// matrix --check with --proxies or --scenarios checks the pins of the cells it ran and says
// how many it left out; a pin outside the selection is not reported as a changed cell.
func TestMatrixCheckOnlyTheSelectedPins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pins := filepath.Join(dir, "pins.yaml")
	err := os.WriteFile(pins, []byte(`- {scenario: forced-race, variant: keepalive-off, proxy: embedded, outcome: ok}
- {scenario: forced-race, variant: post, proxy: nginx, outcome: "502"}
- {scenario: cut-body, variant: chunked, proxy: embedded, outcome: truncated}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, context.Background(), "matrix", "--check", pins, "--only-pinned", "--proxies", "embedded",
		"--scenarios", "forced-race", "--budget", "1s", "--out", filepath.Join(dir, "m"))
	if code != 0 || !strings.Contains(out, "all 1 pinned cells as pinned") ||
		!strings.Contains(errOut, "2 pinned cells of "+pins+" are outside --scenarios/--proxies: not run, not checked") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, context.Background(), "matrix", "--check", pins, "--only-pinned", "--proxies", "haproxy",
		"--scenarios", "cut-body", "--budget", "1s", "--out", filepath.Join(dir, "m2"))
	if want := "--check: none of the cells " + pins + " pins is in --scenarios/--proxies"; code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, want 2 and %q; stderr:\n%s", code, want, errOut)
	}
}
