package faultserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestAdmin(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, withFaults(t, "rst-headers"))
	c := dial(t, addr)
	send(t, c, getReq)
	readUntilEnd(t, c, 0)
	// The fault is counted when chosen and the close when it has gone out: wait for both.
	waitStats(t, s, "one rst-headers, closed", func(st Stats) bool { return st.Faults["rst-headers"] == 1 && st.Closes.ServerRST == 1 })
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
	tp := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := tp.TextToMetricFamilies(strings.NewReader(body))
	if code != 200 || err != nil {
		t.Fatalf("/metrics: %d %v\n%s", code, err, body)
	}
	// The same families and labels as gatecrash run's in-process origins (one writer,
	// promexp.Origin): closes by {side, how}, faults by kind; every series names the instance.
	for _, want := range []struct {
		name   string
		labels map[string]string
		v      float64
	}{
		{"gatecrash_origin_faults_injected_total", map[string]string{"kind": "rst-headers"}, 1},
		{"gatecrash_origin_closes_total", map[string]string{"side": "server", "how": "rst"}, 1},
		{"gatecrash_origin_requests_read_total", nil, 1},
		{"gatecrash_build_info", nil, 1},
	} {
		f := fams[want.name]
		found := false
		for _, m := range f.GetMetric() {
			ls := map[string]string{}
			for _, l := range m.Label {
				ls[l.GetName()] = l.GetValue()
			}
			match := ls["origin_instance"] == st.Instance
			for k, v := range want.labels {
				match = match && ls[k] == v
			}
			if match && (m.Counter.GetValue() == want.v || m.Gauge.GetValue() == want.v) {
				found = true
			}
		}
		if !found {
			t.Fatalf("/metrics lacks %s%v = %v for instance %s:\n%s", want.name, want.labels, want.v, st.Instance, body)
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

// TestAdminOnLoopbackRefusesForeignHosts: on loopback, a request whose Host is a DNS name (a
// rebinding page in the operator's browser) is refused before it reaches the plan; an IP
// address or localhost is served.
func TestAdminOnLoopbackRefusesForeignHosts(t *testing.T) {
	t.Parallel()
	s, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := LocalHostsOnly(s.AdminHandler())
	for _, tc := range []struct {
		host string
		code int
	}{
		{"attacker.example:9002", http.StatusForbidden},
		{"rebind.example", http.StatusForbidden},
		{"127.0.0.1:9002", http.StatusOK},
		{"[::1]:9002", http.StatusOK},
		{"localhost:9002", http.StatusOK},
		{"LOCALHOST", http.StatusOK},
	} {
		req := httptest.NewRequest("PUT", "/faults", strings.NewReader("faults:\n  - kind: rst-headers\n"))
		req.Host = tc.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("Host %s: %d %s, want %d", tc.host, rec.Code, rec.Body, tc.code)
		}
		if tc.code == http.StatusForbidden && len(s.Config().Faults) != 0 {
			t.Fatalf("Host %s changed the plan", tc.host)
		}
	}
}

// TestAdminDropsTrickledBodies: a PUT whose body trickles in a byte a second is cut off when
// the admin's read timeout (10 s) ends, not held open for as long as the client likes (500 of
// them held 40 s with only a header timeout).
func TestAdminDropsTrickledBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s read timeout")
	}
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	log := &syncBuffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, RunOptions{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Log: log})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, rest, ok := strings.Cut(log.String(), "admin: http://"); ok {
			addr, _, _ = strings.Cut(rest, "/")
		}
	}
	if addr == "" {
		t.Fatalf("no admin address in %q", log.String())
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "PUT /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")
	for range 30 {
		if _, err := c.Write([]byte("#")); err != nil {
			break
		}
		time.Sleep(time.Second)
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [512]byte
		if _, err := c.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			break // the server answered and closed, or reset
		}
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("a trickled body held the admin connection %v", took)
	}
}
