package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed library/*.yaml
var libraryFS embed.FS

// Builtin returns the built-in scenario with the given name.
func Builtin(name string) (*Scenario, error) {
	b, err := libraryFS.ReadFile("library/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("%w %q; built-in scenarios: %s", ErrNotFound, name, strings.Join(BuiltinNames(), ", "))
	}
	return Parse(b, "builtin:"+name)
}

// BuiltinNames lists the built-in scenarios, sorted.
func BuiltinNames() []string {
	entries, _ := fs.Glob(libraryFS, "library/*.yaml")
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(e, "library/"), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Load returns the built-in scenario called nameOrFile, or else reads it as a file.
func Load(nameOrFile string) (*Scenario, error) {
	if !strings.ContainsAny(nameOrFile, "/.") {
		return Builtin(nameOrFile)
	}
	return LoadFile(nameOrFile)
}
