package proxy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// varKind is the type of a proxy variable's value.
type varKind int

const (
	varDuration varKind = iota // a Go duration with a unit ("60s", "250ms") or 0
	varCount                   // a whole number >= 0
	varEnum                    // one word of a fixed set
	varWords                   // space-separated words of a fixed set
)

// varDef is the type of a variable the built-in templates read, and the words it allows.
// Which kinds read it, and how, is in their records (kindSettings).
type varDef struct {
	kind  varKind
	words []string
}

// builtinVars are the variables of the built-in templates and the embedded proxy. A scenario
// may set variables of several kinds (each kind ignores the others'), since one scenario runs
// against several proxies; but not one that none of its kinds reads, and not a value of the
// wrong type.
var builtinVars = map[string]varDef{
	"idle_timeout":          {kind: varDuration},
	"connect_timeout":       {kind: varDuration},
	"read_timeout":          {kind: varDuration},
	"client_idle_timeout":   {kind: varDuration},
	"tls_handshake_timeout": {kind: varDuration},
	"keepalive":             {kind: varEnum, words: []string{"on", "off"}},
	"retry_unsafe":          {kind: varEnum, words: []string{"on", "off"}},
	"upstream_proto":        {kind: varEnum, words: []string{"h1", "h2c"}},
	"client_proto":          {kind: varEnum, words: []string{"h1", "h2c"}},
	"max_idle_conns":        {kind: varCount},
	"keepalive_conns":       {kind: varCount},
	"retries":               {kind: varCount},
	"http_reuse":            {kind: varEnum, words: []string{"never", "safe", "aggressive", "always"}},
	"next_upstream": {kind: varWords, words: []string{"error", "timeout", "invalid_header", "http_500",
		"http_502", "http_503", "http_504", "http_403", "http_404", "http_429", "non_idempotent", "off"}},
	"retry_on": {kind: varWords, words: []string{"none", "conn-failure", "empty-response",
		"junk-response", "response-timeout", "0rtt-rejected", "404", "408", "425", "500", "501", "502", "503", "504",
		"all-retryable-errors"}},
}

// CheckKindVars checks that kind k's built-in template can express every duration in vars as
// given (Apache and Traffic Server take whole seconds, Varnish's backend_idle_timeout is at
// least 1 s). It returns every problem joined, each a *VarError.
func CheckKindVars(k Kind, vars map[string]string) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		rule, ok := kindSettings[k][name]
		v := strings.TrimSpace(vars[name])
		if !ok || v == "" {
			continue
		}
		d, err := yamlconf.ParseDuration(v)
		if err != nil {
			continue // CheckVars says so
		}
		switch {
		case rule.wholeSeconds && d%time.Second != 0:
			errs = append(errs, &VarError{Name: name, Msg: fmt.Sprintf("%s: %s takes whole seconds (%s)", v, k, rule.place())})
		case d < rule.min && d != 0 || rule.min > 0 && d == 0:
			errs = append(errs, &VarError{Name: name, Msg: fmt.Sprintf("%s: %s's %s is at least %v", v, k, rule.place(), rule.min)})
		}
	}
	return errors.Join(errs...)
}

// Reads reports whether kind k's built-in template reads variable name.
func Reads(k Kind, name string) bool {
	_, ok := kindSettings[k][name]
	return ok
}

// readBy reports whether one of kinds reads variable name (nil kinds: any kind).
func readBy(name string, kinds []Kind) bool {
	return kinds == nil || slices.ContainsFunc(kinds, func(k Kind) bool { return Reads(k, name) })
}

// VarError is a problem with one proxy variable; Name is the variable (proxy.vars.NAME).
type VarError struct {
	Name string
	Msg  string
}

func (e *VarError) Error() string { return "proxy.vars." + e.Name + ": " + e.Msg }

// CheckVars checks vars against the built-in templates' variables: every name must be read
// by one of kinds (nil: by any kind) and every value must have the variable's type. It returns
// every problem joined, each a *VarError. A user's own template reads what it likes: do not
// call CheckVars for one.
func CheckVars(kinds []Kind, vars map[string]string) error {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		if err := checkVar(kinds, name, vars[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkVar(kinds []Kind, name, value string) error {
	bad := func(format string, args ...any) error {
		return &VarError{Name: name, Msg: fmt.Sprintf(format, args...)}
	}
	def, ok := builtinVars[name]
	if !ok {
		return bad("not read by any built-in template; known: %s", strings.Join(knownVars(kinds), ", "))
	}
	if !readBy(name, kinds) {
		return bad("not read by the templates of %s (only by %s); known for them: %s", kindList(kinds), kindList(readers(name)),
			strings.Join(knownVars(kinds), ", "))
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return nil // blank means the template's default
	}
	switch def.kind {
	case varDuration:
		if _, err := yamlconf.ParseDuration(value); err != nil {
			return bad("%v", err)
		}
	case varCount:
		if n, err := strconv.Atoi(value); err != nil || n < 0 {
			return bad("%q is not a whole number >= 0", value)
		}
	case varEnum:
		if !slices.Contains(def.words, value) {
			return bad("%q is not allowed; allowed: %s", value, strings.Join(def.words, ", "))
		}
	case varWords:
		for _, w := range strings.Fields(value) {
			if !slices.Contains(def.words, w) {
				return bad("%q is not allowed in %q; allowed: %s (space-separated)", w, value, strings.Join(def.words, ", "))
			}
		}
	}
	return nil
}

// knownVars lists the variables kinds read (nil: any kind), sorted.
func knownVars(kinds []Kind) []string {
	var out []string
	for name := range builtinVars {
		if readBy(name, kinds) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func kindList(kinds []Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
