package results

import (
	"math"
	"testing"
)

func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Abs(b) }

func TestRateIntervalsAgainstKnownValues(t *testing.T) {
	t.Parallel()
	// 0 in 1,000,000: one-sided 95% upper bound 2.996e-6 (the rule of three says 3e-6).
	iv := RateInterval(0, 1_000_000)
	if !near(iv.Hi, 2.9957e-6, 1e-3) || iv.Lo != 0 || iv.String() != "0 (< 3.0e-06)" {
		t.Fatalf("0/1e6: %+v %s", iv, iv)
	}
	// 0 in 1,000,000 two-sided exact (one-sided 97.5%): 3.689e-6.
	if _, hi := ClopperPearson(0, 1_000_000, 0.95); !near(hi, 3.6889e-6, 1e-3) {
		t.Fatalf("Clopper-Pearson 0/1e6 upper = %g, want 3.689e-6", hi)
	}
	// Clopper–Pearson 5/100 at 95%: (0.01643, 0.11284) — the textbook values.
	if lo, hi := ClopperPearson(5, 100, 0.95); !near(lo, 0.016431, 1e-3) || !near(hi, 0.112836, 1e-3) {
		t.Fatalf("Clopper-Pearson 5/100 = (%g, %g)", lo, hi)
	}
	// Wilson 50/100 at 95%: (0.4038, 0.5962).
	if lo, hi := Wilson(50, 100, 1.959964); !near(lo, 0.40383, 1e-3) || !near(hi, 0.59617, 1e-3) {
		t.Fatalf("Wilson 50/100 = (%g, %g)", lo, hi)
	}
	// Wilson 2100/1e6 (the "default 2.1e-3" example): about 2.01e-3..2.19e-3.
	iv = RateInterval(2100, 1_000_000)
	if iv.Exact || !near(iv.Lo, 2.011e-3, 2e-3) || !near(iv.Hi, 2.192e-3, 2e-3) {
		t.Fatalf("2100/1e6: %+v", iv)
	}
	if !Significant(RateInterval(0, 1_000_000), iv) {
		t.Fatal("0/1e6 vs 2100/1e6 must be significant")
	}
	if Significant(RateInterval(5, 1000), RateInterval(7, 1000)) {
		t.Fatal("5/1000 vs 7/1000 is not a significant difference")
	}
	if RateInterval(3, 0) != (Interval{}) {
		t.Fatal("n = 0 must give the zero interval")
	}
}

func TestFisherExactAgainstKnownValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k1, n1, k2, n2 int64
		p              float64
	}{
		// Fisher's tea-tasting table (3/4 vs 1/4): two-sided p = 0.4857.
		{3, 4, 1, 4, 0.48571},
		// 10/20 vs 2/20: two-sided p = 0.01380 (R: fisher.test(matrix(c(10,10,2,18),2)))
		{10, 20, 2, 20, 0.013797},
		// Identical rates: p = 1.
		{5, 100, 5, 100, 1},
		// 9/295 vs 0/295: both tails are "all 9 in one group", each prod_{i<9} (295-i)/(590-i)
		// = 0.0018359, so p = 0.0036717.
		{9, 295, 0, 295, 0.0036717},
	} {
		if p := FisherExact(tc.k1, tc.n1, tc.k2, tc.n2); !near(p, tc.p, 2e-3) {
			t.Errorf("Fisher %d/%d vs %d/%d = %.6g, want %.6g", tc.k1, tc.n1, tc.k2, tc.n2, p, tc.p)
		}
	}
	// Symmetric, and fast enough for a million requests.
	if a, b := FisherExact(30, 1_000_000, 3, 1_000_000), FisherExact(3, 1_000_000, 30, 1_000_000); !near(a, b, 1e-9) || a > 1e-4 {
		t.Fatalf("30 vs 3 in 1e6: %g / %g", a, b)
	}
}

// TestRequestsToShowBelow: the count returned is the first at which the 95% upper bound falls
// below the threshold (for no errors: the rule of three, about 3/bound), and none exists when
// the rate seen is at or above the threshold.
func TestRequestsToShowBelow(t *testing.T) {
	t.Parallel()
	n, ok := RequestsToShowBelow(0, 1500, 1e-6)
	if !ok || RateInterval(0, n).Hi >= 1e-6 || RateInterval(0, n-1).Hi < 1e-6 || n < 2_990_000 || n > 3_000_000 {
		t.Fatalf("0 errors, < 1e-6: %d (%v)", n, ok)
	}
	n, ok = RequestsToShowBelow(3, 1_000_000, 5e-6)
	if !ok || n <= 1_000_000 || RateInterval(int64(float64(n)*3e-6+0.5), n).Hi >= 5e-6 {
		t.Fatalf("3 in 1M, < 5e-6: %d (%v)", n, ok)
	}
	if _, ok := RequestsToShowBelow(3, 1_000_000, 3e-6); ok {
		t.Fatal("a rate of 3e-6 can never show < 3e-6")
	}
}
