package loadgen

import (
	"math"
	"strings"
	"testing"
	"time"
)

// Poisson arrivals: exponential gaps with the asked mean and spread (the standard deviation
// of an exponential is its mean), counts before a time that agree with the due times, the
// same times from the same seed, and constant memory however far the schedule goes.
func TestPoissonArrivals(t *testing.T) {
	t.Parallel()
	const rate, n = 1000.0, 200_000
	p := newPoissonArrivals(rate, 42)
	var sum, sumSq float64
	prev := time.Duration(0)
	for i := int64(0); i < n; i++ {
		at := p.at(i)
		if at < prev {
			t.Fatalf("request %d due at %v, before request %d at %v", i, at, i-1, prev)
		}
		g := (at - prev).Seconds()
		sum, sumSq = sum+g, sumSq+g*g
		prev = at
		if len(p.pending) > 4 {
			t.Fatalf("%d due times kept after issuing %d: memory grows", len(p.pending), i)
		}
	}
	mean := sum / n
	sd := math.Sqrt(sumSq/n - mean*mean)
	if math.Abs(mean-1/rate) > 0.01/rate || math.Abs(sd-1/rate) > 0.02/rate {
		t.Errorf("gaps: mean %v, sd %v; want both 1 ms (exponential)", mean, sd)
	}
	// Counting: how many are due before a time ahead of the issued ones.
	q := newPoissonArrivals(rate, 7)
	r := newPoissonArrivals(rate, 7)
	due := q.at(0)
	if got := q.before(due); got != 0 {
		t.Errorf("before the first due time: %d; want 0", got)
	}
	if got := q.by(due); got != 1 {
		t.Errorf("by the first due time: %d; want 1", got)
	}
	ahead := q.before(10 * time.Second)
	if math.Abs(float64(ahead)-10*rate) > 4*math.Sqrt(10*rate) {
		t.Errorf("%d due in 10 s at %v/s; want about %v", ahead, rate, 10*rate)
	}
	for i := int64(0); i < ahead; i++ { // the same seed gives the same times
		if a, b := q.at(i), r.at(i); a != b {
			t.Fatalf("request %d: %v and %v from one seed", i, a, b)
		}
	}
	if q.at(ahead-1) >= 10*time.Second || q.at(ahead) < 10*time.Second {
		t.Errorf("request %d due at %v, %d at %v: the count before 10 s is not where the times say", ahead-1, q.at(ahead-1), ahead, q.at(ahead))
	}
}

// A Poisson load sends about rate × duration requests, open loop, and its result says the
// seed that replays it.
func TestPoissonLoad(t *testing.T) {
	t.Parallel()
	_, addr, _ := origin(t)
	res := run(t, Config{URL: "http://" + addr + "/", Pattern: Poisson, Rate: 400, Connections: 8, Duration: yd(time.Second), Seed: 99})
	due := float64(res.Requests + res.Unsent)
	if math.Abs(due-400) > 5*math.Sqrt(400) {
		t.Errorf("poisson 400/s for 1 s: %d sent, %d unsent; want about 400 due", res.Requests, res.Unsent)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "seed 99") {
		t.Errorf("notes %q do not give the seed", res.Notes)
	}
	bad := Config{URL: "http://x/", Pattern: Poisson, Connections: 1, Duration: yd(time.Second)}
	bad.SetDefaults()
	if err := bad.Validate(); err == nil ||
		!strings.Contains(err.Error(), "pattern poisson needs a rate") {
		t.Errorf("poisson without a rate: %v", err)
	}
}
