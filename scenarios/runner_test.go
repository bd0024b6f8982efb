package scenarios

import (
	"slices"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// TestRaceMarks: the race-window plot marks the timeouts each built-in race is between, as
// the variant sets them — the fault server's idle-close, an app server's keep-alive (also
// behind the relay), the proxy's idle window and, in a chain, the hop's.
func TestRaceMarks(t *testing.T) {
	t.Parallel()
	ms := func(d time.Duration, what string) results.GapMark {
		return results.GapMark{At: results.Seconds(d), What: what}
	}
	for _, tc := range []struct {
		scenario, variant string
		want              []results.GapMark
	}{
		{"keepalive-race", "default", []results.GapMark{ms(50*time.Millisecond, "origin idle timeout"), ms(60*time.Second, "proxy idle window")}},
		{"keepalive-race", "fixed", []results.GapMark{ms(50*time.Millisecond, "origin idle timeout"), ms(30*time.Millisecond, "proxy idle window")}},
		{"chain", "default", []results.GapMark{ms(100*time.Millisecond, "origin idle timeout"), ms(60*time.Second, "proxy idle window"),
			ms(50*time.Millisecond, "hop1 client idle timeout"), ms(30*time.Millisecond, "hop1 idle window")}},
		{"uvicorn-race", "fixed", []results.GapMark{ms(time.Second, "origin idle timeout"), ms(800*time.Millisecond, "proxy idle window")}},
		{"relay-app", "clean", []results.GapMark{ms(5*time.Second, "origin idle timeout"), ms(2*time.Second, "proxy idle window")}},
	} {
		sc, err := Builtin(tc.scenario)
		if err != nil {
			t.Fatal(err)
		}
		var v *Variant
		for _, x := range sc.Variants {
			if x.Name == tc.variant {
				v = x
			}
		}
		if v == nil {
			t.Fatalf("%s has no variant %s", tc.scenario, tc.variant)
		}
		if got := raceMarks(v); !slices.Equal(got, tc.want) {
			t.Errorf("%s/%s: marks %v, want %v", tc.scenario, tc.variant, got, tc.want)
		}
	}
}
