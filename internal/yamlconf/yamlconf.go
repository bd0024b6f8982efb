// Package yamlconf holds what every gatecrash configuration file shares: a Duration that reads
// "250ms", strict decoding that rejects unknown keys with their line and column and the names
// that are allowed, and an error type that carries a position. The fault plan and the scenario
// loader both decode through it, so a typo reads the same everywhere.
//
// Everything here is stateless and safe to call concurrently.
package yamlconf

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML and JSON as a Go duration string ("250ms", "5s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a duration string with a unit. A bare number is rejected because
// "timeout: 5" is ambiguous (seconds? milliseconds?) and the wrong guess hides a race.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		// A TypeError (not a plain error) lets yaml.v3 go on and report every problem at once.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: column %d: %q is not a duration; write a number with a unit, e.g. 250ms, 5s, 1m", n.Line, n.Column, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes d as a duration string (used by encoding/json).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration string (used by encoding/json).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a non-negative Go duration string; "0" is accepted as zero.
func ParseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write a number with a unit, e.g. 250ms, 5s, 1m", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q is negative; durations must be >= 0", s)
	}
	return v, nil
}

// Error is a problem at a position in a YAML document. Line and Column are 1-based; zero
// means the position is unknown (for example a value given on the command line).
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
}

// Decode decodes node n into v (a pointer) strictly: every mapping key must name a field
// (by its yaml tag), every value must have the field's type. All problems are returned at
// once, joined, each with its position. what names the thing being decoded in messages
// ("fault rst-headers").
func Decode(n *yaml.Node, v any, what string) error {
	errs := checkKnown(n, reflect.TypeOf(v), what)
	if err := n.Decode(v); err != nil {
		errs = append(errs, typeErrors(err, what)...)
	}
	return errors.Join(errs...)
}

// typeErrors turns yaml.v3's type errors ("line 3: cannot unmarshal !!str `x` into int")
// into positioned errors that name the thing being decoded.
func typeErrors(err error, what string) []error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		var pe *Error
		if errors.As(err, &pe) && pe == err {
			return []error{&Error{Line: pe.Line, Column: pe.Column, Msg: what + ": " + pe.Msg}}
		}
		return []error{err} // from a nested decoder that already named its position
	}
	out := make([]error, 0, len(te.Errors))
	for _, m := range te.Errors {
		line, col := 0, 1
		if _, err := fmt.Sscanf(m, "line %d:", &line); err == nil {
			m = strings.TrimSpace(m[strings.Index(m, ":")+1:])
			// our own unmarshalers also give the column
			if _, err := fmt.Sscanf(m, "column %d:", &col); err == nil {
				m = strings.TrimSpace(m[strings.Index(m, ":")+1:])
			}
		}
		out = append(out, &Error{Line: line, Column: col, Msg: what + ": " + m})
	}
	return out
}

// checkKnown walks n alongside type t and reports mapping keys that t does not have.
func checkKnown(n *yaml.Node, t reflect.Type, what string) []error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || t == nil {
		return nil
	}
	if t == reflect.TypeOf(yaml.Node{}) {
		return nil // decoded later by its owner
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return checkKnown(n.Content[0], t, what)
	}
	if reflect.PointerTo(t).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()) {
		return nil // the type decodes itself and reports its own errors
	}
	var errs []error
	switch {
	case isInteger(t) && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float":
		// yaml.v3 would quietly drop the fraction: "connections: 2.7" would become 2.
		errs = append(errs, &Error{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(
			"%s: %s is not a whole number", what, n.Value)})
		return errs
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := FieldNames(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, &Error{Line: k.Line, Column: k.Column, Msg: fmt.Sprintf(
					"%s: unknown field %q; allowed: %s", what, k.Value, strings.Join(sortedKeys(fields), ", "))})
				continue
			}
			if isInteger(ft) {
				errs = append(errs, checkKnown(val, ft, what+"."+k.Value)...)
				continue
			}
			errs = append(errs, checkKnown(val, ft, what)...)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			errs = append(errs, checkKnown(c, t.Elem(), what)...)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			errs = append(errs, checkKnown(n.Content[i], t.Elem(), what)...)
		}
	}
	return errs
}

func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// FieldNames returns the YAML keys a struct type accepts (following ",inline" fields) and
// the type of each.
func FieldNames(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range FieldNames(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
