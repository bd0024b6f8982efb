package yamlconf

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type inner struct {
	Every int `yaml:"every"`
}

type sample struct {
	inner   `yaml:",inline"`
	Timeout Duration          `yaml:"timeout"`
	Name    string            `yaml:"name"`
	Nested  struct{ A int }   `yaml:"nested"`
	List    []inner           `yaml:"list"`
	ByName  map[string]*inner `yaml:"by-name"`
}

func decode(t *testing.T, doc string) (sample, error) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	var s sample
	return s, Decode(&n, &s, "thing")
}

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	s, err := decode(t, "timeout: 250ms\nname: x\nevery: 3\nnested: {a: 1}\nlist: [{every: 2}]\nby-name: {k: {every: 4}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.Timeout.D() != 250*time.Millisecond || s.Every != 3 || s.Nested.A != 1 || s.List[0].Every != 2 || s.ByName["k"].Every != 4 {
		t.Fatalf("decoded %+v", s)
	}

	_, err = decode(t, "timeout: 5\nnmae: x\nnested: {b: 1}\nlist: [{evry: 2}]\nby-name: {k: {every: x, e: 1}}\nevery: many\n")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`2:1: thing: unknown field "nmae"; allowed: by-name, every, list, name, nested, timeout`,
		`3:10: thing.nested: unknown field "b"; allowed: a`,
		`4:9: thing.list[0]: unknown field "evry"; allowed: every`,
		`5:22: thing.by-name.k.every: "x" is not a whole number`,
		`5:25: thing.by-name.k: unknown field "e"`,
		`1:10: thing.timeout: "5" is not a duration`,
		`6:8: thing.every: "many" is not a whole number`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "cannot unmarshal") {
		t.Errorf("yaml.v3's own message (without the key) repeats a problem already named:\n%v", err)
	}
}

// Only yaml.v3's repeats are dropped: a problem it alone sees stays, even on a line where
// another problem was named.
func TestDecodeKeepsWhatOnlyYAMLSees(t *testing.T) {
	t.Parallel()
	_, err := decode(t, "nested: {b: 1}\nlist: 5\n")
	if err == nil || !strings.Contains(err.Error(), "cannot unmarshal !!int `5`") {
		t.Fatalf("err = %v, want yaml.v3's message about the list", err)
	}
	_, err = decode(t, "{evry: 1, list: 5}\n")
	if err == nil || !strings.Contains(err.Error(), `unknown field "evry"`) || !strings.Contains(err.Error(), "cannot unmarshal !!int `5`") {
		t.Fatalf("err = %v, want both problems of the line", err)
	}
}

type scalars struct {
	Count   uint64   `yaml:"count"`
	On      bool     `yaml:"on"`
	Share   *float64 `yaml:"share"`
	Timeout Duration `yaml:"timeout"`
}

// Every scalar of the wrong type is named by the key the user wrote, once, with what is
// allowed — whether it comes from a file or from a node built from "k=v" text (line 0).
func TestDecodeNamesTheKeyOfAWrongScalar(t *testing.T) {
	t.Parallel()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("count: -3\non: maybe\nshare: half\ntimeout: -1s\n"), &n); err != nil {
		t.Fatal(err)
	}
	err := Decode(&n, &scalars{}, "load")
	for _, want := range []string{
		"1:8: load.count: -3 is not allowed; allowed: 0 or more",
		`2:5: load.on: "maybe" is not allowed; allowed: true, false`,
		`3:8: load.share: "half" is not a number`,
		`4:10: load.timeout: "-1s" is negative; allowed: 0 or more`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if err != nil && (strings.Count(err.Error(), "\n") != 3 || strings.Contains(err.Error(), "cannot unmarshal")) {
		t.Errorf("want exactly four problems, each once:\n%v", err)
	}

	built := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "count"}, {Kind: yaml.ScalarNode, Value: "abc"}}}
	err = Decode(built, &scalars{}, "cut-body")
	if err == nil || err.Error() != `cut-body.count: "abc" is not a whole number` {
		t.Errorf("built node: err = %v", err)
	}
	if err := Decode(built, &scalars{}, ""); err == nil || err.Error() != `count: "abc" is not a whole number` {
		t.Errorf("whole document: err = %v, want the key alone", err)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"0": 0, "1.5s": 1500 * time.Millisecond, "200us": 200 * time.Microsecond} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"5", "-1s", "soon", ""} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	b, _ := Duration(1500 * time.Millisecond).MarshalText()
	var d Duration
	if err := d.UnmarshalText(b); err != nil || d.D() != 1500*time.Millisecond {
		t.Fatalf("text round trip: %s -> %v %v", b, d, err)
	}
}

// yaml.v3 decodes 2.7 into an int as 2; a count with a fraction is a mistake to name.
func TestDecodeRejectsFractionsForWholeNumbers(t *testing.T) {
	t.Parallel()
	_, err := decode(t, "every: 2.7\nlist: [{every: 1e3}]\nnested: {a: 3}\n")
	if err == nil || !strings.Contains(err.Error(), "1:8: thing.every: 2.7 is not a whole number") ||
		!strings.Contains(err.Error(), "1e3 is not a whole number") {
		t.Fatalf("err = %v, want both fractions named with their positions", err)
	}
	if _, err := decode(t, "every: 3\n"); err != nil {
		t.Fatal(err)
	}
}
