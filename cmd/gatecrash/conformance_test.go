package main

import (
	"encoding/json"
	"os"
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
