package proxy

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The variable table and the templates must agree: every variable a built-in template reads
// is in the table for that kind, and every kind the table names reads the variable.
func TestVarTableMatchesTemplates(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`var "([a-z_]+)"`)
	read := map[Kind][]string{Embedded: keys(embeddedDefaults)}
	for k, def := range kinds {
		read[k] = append(read[k], def.argVars...)
		for _, name := range append([]string{def.template}, def.files...) {
			src, err := templateFS.ReadFile("templates/" + name)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				if !slices.Contains(read[k], m[1]) {
					read[k] = append(read[k], m[1])
				}
			}
		}
	}
	for k, names := range read {
		for _, n := range names {
			if def, ok := builtinVars[n]; !ok || !slices.Contains(def.kinds, k) {
				t.Errorf("%s reads %s, which the variable table does not list for it", k, n)
			}
		}
	}
	for n, def := range builtinVars {
		for _, k := range def.kinds {
			if !slices.Contains(read[k], n) {
				t.Errorf("the table says %s reads %s; its template does not", k, n)
			}
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
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
