package loadgen

import (
	"fmt"
	"strings"
	"testing"
)

// TestRenderHost: a request has one Host line — the URL's, or the one a header gives (the
// load's --header or a target's own), never both.
func TestRenderHost(t *testing.T) {
	t.Parallel()
	tg, err := parseTarget("http://127.0.0.1:8080/x")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		load, own []string
		want      string
	}{
		{nil, nil, "Host: 127.0.0.1:8080\r\n"},
		{[]string{"host: api.example"}, nil, "host: api.example\r\n"},
		{nil, []string{"Host: b.example"}, "Host: b.example\r\n"},
	} {
		r := render(&Config{Headers: tc.load}, "GET", tg, tc.own, nil)
		head := string(r.head)
		if n := strings.Count(strings.ToLower(head), "\r\nhost:"); n != 1 || !strings.Contains(head, tc.want) {
			t.Errorf("load %q, own %q: %d Host lines in\n%s", tc.load, tc.own, n, head)
		}
	}
}

// TestParseTargets: vegeta's format as its users write it — CRLF line ends, comments between
// and inside requests, several blank lines, an @body per request — and every wrong file
// refused naming the line.
func TestParseTargets(t *testing.T) {
	t.Parallel()
	bodies := map[string][]byte{"a.json": []byte(`{"a":1}`)}
	read := func(p string) ([]byte, error) {
		if b, ok := bodies[p]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s: no such file", p)
	}
	src := "# orders\r\nPOST http://127.0.0.1:8080/orders\r\nContent-Type: application/json\r\n# a comment inside\r\n@a.json\r\n\r\n\r\n" +
		"GET http://127.0.0.1:8080/items?id=7\r\n   \r\nHEAD http://127.0.0.1:8080/\r\nX-A: 1\r\nX-B: two words\r\n"
	ts, err := ParseTargets([]byte(src), "t.txt", read)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[0].Method != "POST" || string(ts[0].Body) != `{"a":1}` || len(ts[0].Headers) != 1 ||
		ts[1].URL != "http://127.0.0.1:8080/items?id=7" || ts[1].Body != nil || ts[1].Line != 8 ||
		len(ts[2].Headers) != 2 || ts[2].Headers[1] != "X-B: two words" {
		t.Fatalf("parsed %+v", ts)
	}
	for _, tc := range []struct{ src, want string }{
		{"GET\n", `t.txt:1: "GET" is not a request line`},
		{"GET http://127.0.0.1:8080/ extra\n", `t.txt:1: "GET http://127.0.0.1:8080/ extra" is not a request line`},
		{"G@T http://127.0.0.1:8080/\n", `t.txt:1: "G@T" is not an HTTP method token`},
		{"GET ftp://127.0.0.1/\n", `t.txt:1: `},
		{"GET http://127.0.0.1:8080/\n\nGET https://127.0.0.1:8080/\n", "t.txt:3: https://127.0.0.1:8080/ goes to https://127.0.0.1:8080; every target must go to http://127.0.0.1:8080"},
		{"POST http://127.0.0.1:8080/\n@a.json\n@a.json\n", "t.txt:3: a second body for the request of line 1"},
		{"POST http://127.0.0.1:8080/\n@a.json\nX-Late: 1\n", `t.txt:3: header "X-Late: 1" after the body`},
		{"POST http://127.0.0.1:8080/\n@missing.json\n", "t.txt:2: body: missing.json: no such file"},
		{"GET http://127.0.0.1:8080/\nnot a header\n", `t.txt:2: "not a header" is not a header`},
		{"# only a comment\n\n", "t.txt: no targets in it"},
	} {
		if _, err := ParseTargets([]byte(tc.src), "t.txt", read); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
	}
	var many strings.Builder
	for range MaxTargets + 1 {
		many.WriteString("GET http://127.0.0.1:8080/\n\n")
	}
	if _, err := ParseTargets([]byte(many.String()), "t.txt", read); err == nil || !strings.Contains(err.Error(), "more than 10000 targets") {
		t.Errorf("too many targets: %v", err)
	}
}
