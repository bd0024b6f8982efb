package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatecrash/gatecrash/proxy"
)

// TestReadmeProxyVarTables: the README's tables of the proxies' variables are what the kinds'
// records (proxy/settings.go) say — directive, default, unit — so a default changed in the
// records changes the README, or this fails. make readme-samples rewrites them.
func TestReadmeProxyVarTables(t *testing.T) {
	t.Parallel()
	path, err := filepath.Abs("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	const open, closing = "<!-- generated proxy-vars: proxy.VarTables, make readme-samples -->\n", "<!-- /generated -->"
	i := strings.Index(readme, open)
	j := strings.Index(readme, closing)
	if i < 0 || j < i {
		t.Fatalf("README has no %q ... %q block", strings.TrimSpace(open), closing)
	}
	start := i + len(open)
	want := proxy.VarTables(5)
	if readme[start:j] == want {
		return
	}
	if *updateSamples {
		if err := os.WriteFile(path, []byte(readme[:start]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's proxy variable tables differ from the kinds' records (make readme-samples rewrites them).\nREADME:\n%s\nrecords:\n%s",
		readme[start:j], want)
}
