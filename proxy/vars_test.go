package proxy

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The records and the configs must agree: every variable a built-in template (or the
// embedded proxy, or a kind's command line) reads has a record for that kind, every record is
// read, every record's variable has a type, and no built-in template writes a default of its
// own ({{var "name" "default"}}): the record's is the only one.
func TestSettingsMatchTemplates(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`var "([a-z_]+)"( "[^"]*")?`)
	read := map[Kind][]string{}
	src, err := os.ReadFile("embedded.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"([a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		if _, ok := builtinVars[m[1]]; ok && !slices.Contains(read[Embedded], m[1]) {
			read[Embedded] = append(read[Embedded], m[1])
		}
	}
	for k, def := range kinds {
		read[k] = append(read[k], def.argVars...)
		for _, name := range append([]string{def.template}, def.files...) {
			src, err := templateFS.ReadFile("templates/" + name)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				if m[2] != "" {
					t.Errorf("%s: {{var %q%s}} has a default of its own; the record in settings.go is the one place for it", name, m[1], m[2])
				}
				if !slices.Contains(read[k], m[1]) {
					read[k] = append(read[k], m[1])
				}
			}
		}
	}
	for k, names := range read {
		for _, n := range names {
			if !Reads(k, n) {
				t.Errorf("%s reads %s, which has no record for it in kindSettings", k, n)
			}
		}
	}
	for k, settings := range kindSettings {
		for n, s := range settings {
			if !slices.Contains(read[k], n) {
				t.Errorf("kindSettings says %s reads %s; its config does not", k, n)
			}
			if _, ok := builtinVars[n]; !ok {
				t.Errorf("%s's %s has no type in builtinVars", k, n)
			}
			if s.directive == "" || s.def == "" {
				t.Errorf("%s's %s: directive %q, default %q; both are needed", k, n, s.directive, s.def)
			}
			if err := checkVar([]Kind{k}, n, s.def); err != nil {
				t.Errorf("%s's default for %s: %v", k, n, err)
			}
			if err := CheckKindVars(k, map[string]string{n: s.def}); err != nil {
				t.Errorf("%s's default for %s breaks its own unit: %v", k, n, err)
			}
		}
	}
	for n := range builtinVars {
		if len(readers(n)) == 0 {
			t.Errorf("%s is read by no kind", n)
		}
	}
	for k, settings := range appSettings {
		for n := range settings {
			if _, ok := appVars[n]; !ok {
				t.Errorf("app %s's %s has no check in appVars", k, n)
			}
		}
	}
}

func TestCheckVars(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		kinds []Kind
		vars  map[string]string
		want  []string // substrings, one per expected error; none: valid
	}{
		{"all good", nil, map[string]string{"idle_timeout": "60s", "keepalive": "off", "retries": "3", "next_upstream": "error timeout"}, nil},
		{"blank is the default", nil, map[string]string{"read_timeout": " "}, nil},
		{"a typo", nil, map[string]string{"idle_timout": "60s"}, []string{"proxy.vars.idle_timout: not read by any built-in template; known: client_idle_timeout"}},
		{"not a duration", nil, map[string]string{"read_timeout": "banana"}, []string{`proxy.vars.read_timeout: "banana" is not a duration`}},
		{"a bare number", nil, map[string]string{"idle_timeout": "60"}, []string{`proxy.vars.idle_timeout: "60" is not a duration`}},
		{"negative count", nil, map[string]string{"max_idle_conns": "-1"}, []string{`proxy.vars.max_idle_conns: "-1" is not a whole number`}},
		{"enum", nil, map[string]string{"http_reuse": "sometimes"}, []string{`"sometimes" is not allowed; allowed: never, safe, aggressive, always`}},
		{"words", nil, map[string]string{"retry_on": "conn-failure bogus"}, []string{`"bogus" is not allowed in "conn-failure bogus"`}},
		{"another kind's variable", []Kind{Nginx, Caddy}, map[string]string{"retries": "2"},
			[]string{"proxy.vars.retries: not read by the templates of nginx, caddy (only by haproxy, trafficserver)"}},
		{"every problem at once", nil, map[string]string{"a": "1", "keepalive": "maybe"}, []string{"proxy.vars.a:", "proxy.vars.keepalive:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckVars(tc.kinds, tc.vars)
			var ve *VarError
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *VarError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// The units configs take durations in, as the templates and command lines write them.
func TestDurationUnits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v, secs, ms, frac string
	}{
		{"1500ms", "2", "1500", "1.5"},
		{"3s", "3", "3000", "3"},
		{"100ms", "1", "100", "0.1"},
		{"2m", "120", "120000", "120"},
	} {
		if got := inUnit(tc.v, secondsUp); got != tc.secs {
			t.Errorf("%s in seconds: %s, want %s", tc.v, got, tc.secs)
		}
		if got := inUnit(tc.v, millis); got != tc.ms {
			t.Errorf("%s in ms: %s, want %s", tc.v, got, tc.ms)
		}
		if got, err := durationFunc(fracSeconds)(tc.v); err != nil || got != tc.frac {
			t.Errorf("%s in seconds with a fraction: %s (%v), want %s", tc.v, got, err, tc.frac)
		}
	}
	if _, err := durationFunc(millis)("soon"); err == nil {
		t.Error("a value that is no duration was written")
	}
	if got := inUnit("soon", millis); got != "soon" {
		t.Errorf("not a duration: %q passed on as %q", "soon", got)
	}
}
