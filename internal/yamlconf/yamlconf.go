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
		msg := fmt.Sprintf("%q is not a duration; write a number with a unit, e.g. 250ms, 5s, 1m", n.Value)
		if err != nil {
			msg = err.Error()
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: %s", n.Line, n.Column, msg)}}
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
		return 0, fmt.Errorf("%q is negative; allowed: 0 or more", s)
	}
	return v, nil
}

// Error is a problem at a position in a YAML document. Line and Column are 1-based; zero
// means the position is unknown (for example a value given on the command line).
type Error struct {
	Line, Column int
	Msg          string

	scalar bool // a scalar of the wrong type, which yaml.v3 would report again without its key
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
}

// Decode decodes node n into v (a pointer) strictly: every mapping key must name a field
// (by its yaml tag), every value must have the field's type. All problems are returned at
// once, joined, each with its position and the path of the key the user wrote
// ("load.connections", "faults[0] (delay).head-delay"). what names the thing being decoded
// ("load"); empty for a whole document, whose keys are then named alone.
func Decode(n *yaml.Node, v any, what string) error {
	errs := checkKnown(n, reflect.TypeOf(v), what)
	if err := n.Decode(v); err != nil {
		// checkKnown has already named, with its key, every scalar of the wrong type; yaml.v3
		// reports the same ones again without the key ("cannot unmarshal !!str `x` into int").
		named := map[int]bool{}
		for _, e := range errs {
			if pe, ok := e.(*Error); ok && pe.scalar {
				named[pe.Line] = true
			}
		}
		for _, e := range typeErrors(err, what) {
			if pe, ok := e.(*Error); ok && named[pe.Line] {
				continue
			}
			errs = append(errs, e)
		}
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
			return []error{&Error{Line: pe.Line, Column: pe.Column, Msg: prefixed(what, pe.Msg)}}
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
		out = append(out, &Error{Line: line, Column: col, Msg: prefixed(what, m)})
	}
	return out
}

// prefixed is "what: msg", or msg alone when what is empty (a whole document).
func prefixed(what, msg string) string {
	if what == "" {
		return msg
	}
	return what + ": " + msg
}

// KeyPath is the path of key under what, as messages name it: "load" + "connections" =
// "load.connections"; key alone when what is empty (a whole document).
func KeyPath(what, key string) string {
	if what == "" {
		return key
	}
	return what + "." + key
}

var durationType = reflect.TypeOf(Duration(0))

// checkKnown walks n alongside type t and reports mapping keys that t does not have and
// scalars that cannot be t, each named by its path (what).
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
	if n.Kind == yaml.ScalarNode {
		if msg := scalarProblem(n, t); msg != "" {
			return []error{&Error{Line: n.Line, Column: n.Column, Msg: prefixed(what, msg), scalar: true}}
		}
	}
	if reflect.PointerTo(t).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()) {
		return nil // the type decodes itself and reports its own errors
	}
	var errs []error
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := FieldNames(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, &Error{Line: k.Line, Column: k.Column, Msg: prefixed(what, fmt.Sprintf(
					"unknown field %q; allowed: %s", k.Value, strings.Join(sortedKeys(fields), ", ")))})
				continue
			}
			errs = append(errs, checkKnown(val, ft, KeyPath(what, k.Value))...)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			errs = append(errs, checkKnown(c, t.Elem(), fmt.Sprintf("%s[%d]", what, i))...)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, checkKnown(n.Content[i+1], t.Elem(), KeyPath(what, n.Content[i].Value))...)
		}
	}
	return errs
}

// scalarProblem says what is wrong with scalar n as a value of type t, or "" when nothing is
// (or when yaml.v3 is left to say it: types other than numbers, booleans and durations).
// yaml.v3 would quietly drop a fraction ("connections: 2.7" becomes 2), so that is caught
// here, and the rest is said with the key, which yaml.v3's own message lacks.
func scalarProblem(n *yaml.Node, t reflect.Type) string {
	tag := n.ShortTag()
	if tag == "!!null" {
		return ""
	}
	switch {
	case t == durationType:
		if _, err := ParseDuration(n.Value); err != nil {
			return err.Error()
		}
	case isInteger(t):
		switch {
		case tag == "!!float":
			return n.Value + " is not a whole number"
		case tag != "!!int":
			return fmt.Sprintf("%q is not a whole number", n.Value)
		case isUnsigned(t) && strings.HasPrefix(strings.TrimSpace(n.Value), "-"):
			return n.Value + " is not allowed; allowed: 0 or more"
		}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if tag != "!!int" && tag != "!!float" {
			return fmt.Sprintf("%q is not a number", n.Value)
		}
	case t.Kind() == reflect.Bool:
		if tag != "!!bool" {
			return fmt.Sprintf("%q is not allowed; allowed: true, false", n.Value)
		}
	}
	return ""
}

func isUnsigned(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
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
