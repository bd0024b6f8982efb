package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/gatecrash/gatecrash/"

// modulePackages returns every package of the module (its folder, relative to the top) with
// the module packages its non-test files import.
func modulePackages(t *testing.T, top string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != top && (strings.HasPrefix(name, ".") || name == "testdata" || name == "out") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(top, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if _, ok := out[rel]; !ok {
			out[rel] = nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out[rel], dep) {
				out[rel] = append(out[rel], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// importTable renders who imports whom, a line per package.
func importTable(pkgs map[string][]string) string {
	var b strings.Builder
	b.WriteString("| package | imports (of this module) |\n|---|---|\n")
	for _, p := range slices.Sorted(maps.Keys(pkgs)) {
		deps := make([]string, len(pkgs[p]))
		for i, d := range pkgs[p] {
			deps[i] = "`" + d + "`"
		}
		if len(deps) == 0 {
			deps = []string{"—"}
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", p, strings.Join(deps, ", "))
	}
	return b.String()
}

// TestArchitectureDocIsTheCode: docs/architecture.md's package table has a row for every
// package of the module and for no other, and its import table is who imports whom in the
// code (make readme-samples rewrites it) — so the page cannot claim an import that is not
// there, or miss a package.
func TestArchitectureDocIsTheCode(t *testing.T) {
	t.Parallel()
	top, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := modulePackages(t, top)
	if len(pkgs) < 15 || pkgs["cmd/gatecrash"] == nil {
		t.Fatalf("found %d packages: %v", len(pkgs), slices.Sorted(maps.Keys(pkgs)))
	}
	g := findGenerated(t, "docs/architecture.md", "<!-- generated imports: make readme-samples -->\n")
	described := map[string]bool{} // rows of the package table: outside the import table
	for _, line := range strings.Split(g.outside(), "\n") {
		if rest, ok := strings.CutPrefix(line, "| `"); ok {
			if k := strings.Index(rest, "` | "); k > 0 {
				described[rest[:k]] = true
			}
		}
	}
	for p := range pkgs {
		if !described[p] {
			t.Errorf("docs/architecture.md does not describe package %s", p)
		}
	}
	for p := range described {
		if _, ok := pkgs[p]; !ok {
			t.Errorf("docs/architecture.md describes %s, which is no package", p)
		}
	}
	g.check(t, importTable(pkgs), "the code's imports")
}
