package faultserver

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAdmin(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, withFaults(t, "rst-headers"))
	c := dial(t, addr)
	send(t, c, getReq)
	readUntilEnd(t, c, 0)
	waitStats(t, s, "one rst-headers", func(st Stats) bool { return st.Faults["rst-headers"] == 1 })
	admin := httptest.NewServer(s.AdminHandler())
	t.Cleanup(admin.Close)

	get := func(path string) (int, string) {
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	put := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPut, admin.URL+"/faults", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, body := get("/stats")
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("/stats: %d %v %s", code, err, body)
	}
	if st.Faults["rst-headers"] != 1 || st.Closes.ServerRST != 1 || st.ConnectionsAccepted != 1 {
		t.Fatalf("/stats = %+v", st)
	}

	code, body = get("/metrics")
	for _, want := range []string{
		"gatecrash_origin_faults_injected_total{kind=\"rst-headers\"} 1\n",
		"gatecrash_origin_closes_total{side=\"server\",style=\"rst\"} 1\n",
		"# TYPE gatecrash_origin_requests_read_total counter\ngatecrash_origin_requests_read_total 1\n",
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, body)
		}
	}

	code, body = get("/faults")
	if code != 200 || !strings.Contains(body, "kind: rst-headers") || !strings.Contains(body, "after-bytes: 17") {
		t.Fatalf("/faults: %d\n%s", code, body)
	}

	code, body = put("faults:\n  - kind: status\n    code: 418\n")
	if code != 200 || !strings.Contains(body, "code: 418") {
		t.Fatalf("PUT /faults: %d %s", code, body)
	}
	c2 := dial(t, addr)
	send(t, c2, getReq)
	if got := readN(t, c2, 12); string(got) != "HTTP/1.1 418" {
		t.Fatalf("after PUT /faults the server answered %q", got)
	}

	code, body = put("faults:\n  - kind: status\n    cod: 418\n")
	if code != 400 || !strings.Contains(body, `PUT /faults:3:5: faults[0] (status): unknown field "cod"`) {
		t.Fatalf("bad PUT: %d %s", code, body)
	}
	if s.Config().Faults[0].(*Status).Code != 418 {
		t.Fatal("a rejected PUT changed the plan")
	}
	for _, null := range []string{"null", "~", "null\n"} {
		code, body = put(null)
		if code != 400 || !strings.Contains(body, "the document is null") {
			t.Fatalf("PUT %q: %d %s; want 400, not a silently reset plan", null, code, body)
		}
	}
	if len(s.Config().Faults) != 1 {
		t.Fatal("a null PUT changed the plan")
	}
}

// The admin listener warning fires for anything but a loopback address.
func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip   string
		want bool
	}{{"127.0.0.1", true}, {"127.0.0.53", true}, {"::1", true}, {"0.0.0.0", false}, {"::", false}, {"10.1.2.3", false}} {
		if got := isLoopback(&net.TCPAddr{IP: net.ParseIP(tc.ip), Port: 9002}); got != tc.want {
			t.Errorf("isLoopback(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}
