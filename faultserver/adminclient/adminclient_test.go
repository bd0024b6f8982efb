package adminclient_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/faultserver/adminclient"
	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
)

func get(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return // a reset is one of the faults
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// settle closes the test's idle client connections and waits until the server has seen them
// end, so that two snapshots taken one after the other count the same closes.
func settle(t *testing.T, srv *faultserver.Server) {
	t.Helper()
	http.DefaultClient.CloseIdleConnections()
	for deadline := time.Now().Add(5 * time.Second); srv.Stats().ConnectionsOpen > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", srv.Stats().ConnectionsOpen)
		}
	}
}

// TestWatchThroughAdminEqualsLocal: the truth a load takes through the admin API is the truth
// gatecrash run takes from the same server in its process — same counts, same events — so
// `load --origin-admin` and `run` cannot disagree about what the origin did.
func TestWatchThroughAdminEqualsLocal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, addr := faultservertest.Origin(t, "rst-headers:every=3")
	admin := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(admin.Close)
	// Both watches start, and both truths are taken, with nothing in flight: a close landing
	// between the two would differ.
	get(t, "http://"+addr+"/") // before the watch: not counted
	settle(t, srv)
	c, err := adminclient.New(admin.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	remote, err := faultserver.StartWatch(ctx, c, c.String())
	if err != nil {
		t.Fatal(err)
	}
	local, err := faultserver.StartWatch(ctx, faultserver.Local(srv), "local")
	if err != nil {
		t.Fatal(err)
	}
	for range 9 {
		get(t, "http://"+addr+"/")
	}
	settle(t, srv)
	a, err := remote.Truth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := local.Truth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.RequestsStarted != 9 || a.Faults["rst-headers"] != 3 || len(a.Events) != 3 {
		t.Fatalf("through the admin API: %d requests, %d resets, %d events; want 9, 3, 3", a.RequestsStarted, a.Faults["rst-headers"], len(a.Events))
	}
	if !reflect.DeepEqual(a.OriginCounts, b.OriginCounts) {
		t.Errorf("counts through the admin API %+v\nin the process %+v", a.OriginCounts, b.OriginCounts)
	}
	for i := range a.Events {
		if !a.Events[i].Time.Equal(b.Events[i].Time) || a.Events[i].Conn != b.Events[i].Conn || a.Events[i].Kind != b.Events[i].Kind {
			t.Errorf("event %d: %+v through the admin API, %+v in the process", i, a.Events[i], b.Events[i])
		}
	}
	if n, ok := a.RequestFaults(); !ok || n != 3 {
		t.Errorf("request faults through the admin API: %d (%v); want 3 (the server's own classification came across)", n, ok)
	}
	if len(a.Windows) != 1 || a.Windows[0].Instance != srv.Stats().Instance {
		t.Errorf("windows %+v; want one of instance %s", a.Windows, srv.Stats().Instance)
	}
}

// TestStatsJSONIsTheResultsJSON: every counter a result's origin truth writes is a field of
// GET /stats with the same name and value (one type behind both), and a snapshot decoded from
// the admin API equals the server's own.
func TestStatsJSONIsTheResultsJSON(t *testing.T) {
	t.Parallel()
	srv, addr := faultservertest.Origin(t, "status:code=503,every=2")
	for range 4 {
		get(t, "http://"+addr+"/")
	}
	admin := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(admin.Close)
	c, _ := adminclient.New(admin.URL)
	settle(t, srv)
	got, err := c.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := srv.Stats()
	if !reflect.DeepEqual(got.OriginCounts, want.OriginCounts) || got.Instance != want.Instance {
		t.Fatalf("decoded %+v\nserver   %+v", got, want)
	}
	var stats, truth map[string]any
	b, _ := json.Marshal(got)
	json.Unmarshal(b, &stats)
	b, _ = json.Marshal(got.Since(faultserver.Stats{}).OriginCounts)
	json.Unmarshal(b, &truth)
	if len(truth) < 9 {
		t.Fatalf("a truth's JSON has %d fields: %v", len(truth), truth)
	}
	for k, v := range truth {
		if !reflect.DeepEqual(stats[k], v) {
			t.Errorf("%s: %v in a result, %v at GET /stats", k, v, stats[k])
		}
	}
}

// TestPlanRoundTrip: the plan read back is the plan set, and a plan the server refuses comes
// back as its own error.
func TestPlanRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, _ := faultservertest.Origin(t)
	admin := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(admin.Close)
	c, _ := adminclient.New(admin.URL)
	cfg, err := faultserver.ParseConfig([]byte("response:\n  status: 503\nfaults:\n  - kind: rst-headers\n    every: 7\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetPlan(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	back, err := c.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Faults) != 1 || faultserver.KindOf(back.Faults[0]) != "rst-headers" || back.Response.Status != 503 {
		t.Fatalf("plan read back: status %d, faults %+v", back.Response.Status, back.Faults)
	}
	if got := srv.Config(); got.Response.Status != 503 {
		t.Fatalf("the server serves status %d after SetPlan", got.Response.Status)
	}
	bad := *cfg
	bad.Response.Status = 42
	if err := c.SetPlan(ctx, &bad); err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "status") {
		t.Fatalf("status 42 was taken: %v", err)
	}
}

// TestNotAFaultServer: an address that is no fault server's admin API, or no URL, says so.
func TestNotAFaultServer(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	c, _ := adminclient.New(other.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Snapshot(ctx); err == nil || !strings.Contains(err.Error(), "fault server's admin address") {
		t.Errorf("a 404 server: %v", err)
	}
	for _, base := range []string{"127.0.0.1:9002", "ftp://x", "http://"} {
		if _, err := adminclient.New(base); err == nil || !strings.Contains(err.Error(), "http(s) URL") {
			t.Errorf("New(%q): %v", base, err)
		}
	}
}
