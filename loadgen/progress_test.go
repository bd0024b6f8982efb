package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// The observer sees the run as data: growing counts by class while it goes, and a final
// snapshot that agrees with the result.
func TestObserverSeesProgressAsData(t *testing.T) {
	t.Parallel()
	_, addr, _ := origin(t, "status:code=502,every=4")
	var snaps []Progress // the observer is never called concurrently with itself
	res, err := Run(context.Background(), Config{URL: "http://" + addr + "/", Connections: 2, Duration: yd(600 * time.Millisecond)},
		WithObserver(50*time.Millisecond, func(p Progress) { snaps = append(snaps, p) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) < 3 {
		t.Fatalf("%d snapshots in 600ms at a 50ms interval", len(snaps))
	}
	last := snaps[len(snaps)-1]
	if !last.Done || last.Requests != res.Requests || last.ByClass[results.Status502] != res.Count(results.Status502) ||
		last.ByClass[results.OK] != res.Count(results.OK) || last.Duration != 600*time.Millisecond {
		t.Fatalf("final snapshot %+v does not match the result (%d requests, %d ok, %d 502)", last, res.Requests,
			res.Count(results.OK), res.Count(results.Status502))
	}
	for i, p := range snaps[:len(snaps)-1] {
		if p.Done {
			t.Fatalf("snapshot %d of %d marked done", i, len(snaps))
		}
		if i > 0 && (p.Requests < snaps[i-1].Requests || p.Elapsed <= snaps[i-1].Elapsed) {
			t.Fatalf("snapshot %d went backwards: %+v after %+v", i, p, snaps[i-1])
		}
	}
	mid := snaps[len(snaps)/2]
	if mid.Requests == 0 || mid.Rate <= 0 || mid.ByClass[results.Status502] == 0 {
		t.Fatalf("mid-run snapshot shows no progress: %+v", mid)
	}
}
