package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/proxy"
)

// generated is a block of a document that the code writes: between its open marker and
// "<!-- /generated -->".
type generated struct {
	path       string
	doc        string
	start, end int
}

// findGenerated finds the block that begins with open in the file at path (relative to the
// repository's top).
func findGenerated(t *testing.T, path, open string) generated {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("../..", path))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, open)
	j := -1
	if i >= 0 {
		j = strings.Index(doc[i:], "<!-- /generated -->")
	}
	if i < 0 || j < 0 {
		t.Fatalf("%s has no %q ... <!-- /generated --> block", path, strings.TrimSpace(open))
	}
	return generated{path: abs, doc: doc, start: i + len(open), end: i + j}
}

// outside is the document without the block.
func (g generated) outside() string { return g.doc[:g.start] + g.doc[g.end:] }

// check fails the test when the block is not want — or, with -update-samples (make
// readme-samples), writes want into it.
func (g generated) check(t *testing.T, want, what string) {
	t.Helper()
	if g.doc[g.start:g.end] == want {
		return
	}
	if *updateSamples {
		if err := os.WriteFile(g.path, []byte(g.doc[:g.start]+want+g.doc[g.end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s differ from %s (make readme-samples rewrites them).\nnow:\n%s\nwant:\n%s", g.path, what, g.doc[g.start:g.end], want)
}

// TestReadmeProxyVarTables: the README's tables of the proxies' variables are what the kinds'
// records (proxy/settings.go) say — directive, default, unit — so a default changed in the
// records changes the README, or this fails. make readme-samples rewrites them.
func TestReadmeProxyVarTables(t *testing.T) {
	t.Parallel()
	g := findGenerated(t, "README.md", "<!-- generated proxy-vars: proxy.VarTables, make readme-samples -->\n")
	g.check(t, proxy.VarTables(5), "the kinds' records")
}

// TestFidelityFiguresAreTheDocs: the idle close's fidelity a run's note quotes is what
// docs/fidelity.md measured.
func TestFidelityFiguresAreTheDocs(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/fidelity.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []faultserver.IdleMode{faultserver.IdleModeClose, faultserver.IdleModeServe} {
		note := faultserver.IdleCloseFidelity(m)
		for _, fig := range regexp.MustCompile(`\d\.\d× \(\d\.\d–\d\.\d×\)|about \d+×|\d+–\d+×`).FindAllString(note, -1) {
			if !strings.Contains(string(b), fig) {
				t.Errorf("the run's note for mode %s says %s; docs/fidelity.md does not", m, fig)
			}
		}
		if n := len(regexp.MustCompile(`×`).FindAllString(note, -1)); n < 5 {
			t.Errorf("note %q has %d ×; want two ratios with intervals and the Node.js one", note, n)
		}
	}
}
