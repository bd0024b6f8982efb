package loadgen

import (
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
