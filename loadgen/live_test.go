package loadgen

import (
	"context"
	"testing"

	"github.com/gatecrash/gatecrash/results"
)

// Watched: nothing before the load starts; while and after it goes, the live result with what
// the caller adds; once finished, the caller's result itself.
func TestWatched(t *testing.T) {
	t.Parallel()
	_, addr, _ := origin(t)
	live := &Live{}
	adds := 0
	w := &Watched{Live: live, Add: func(r *results.Result) { adds++; r.Scenario = "added" }}
	if r := w.Snapshot(); r != nil || adds != 0 {
		t.Fatalf("before the load: %v (%d adds)", r, adds)
	}
	res, err := Run(context.Background(), Config{URL: "http://" + addr + "/", Requests: 20, Connections: 2}, WithLive(live))
	if err != nil {
		t.Fatal(err)
	}
	r := w.Snapshot()
	if r == nil || r.Scenario != "added" || r.Requests != 20 || adds != 1 {
		t.Fatalf("after the load, before Finish: %+v (%d adds)", r, adds)
	}
	res.Scenario = "final"
	w.Finish(res)
	if got := w.Snapshot(); got != res || adds != 1 {
		t.Fatalf("after Finish: %p (scenario %q), want the final result %p; %d adds", got, got.Scenario, res, adds)
	}
}
