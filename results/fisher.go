package results

import "math"

// FisherExact returns the two-sided p-value of Fisher's exact test for the 2x2 table
// (k1 of n1) vs (k2 of n2): the probability, with both totals fixed, of a split at least as
// extreme as the one observed. It is exact at any count, which matters for the handful of
// failures in a million that gatecrash deals in.
func FisherExact(k1, n1, k2, n2 int64) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	k := k1 + k2 // events in both
	n := n1 + n2
	lo, hi := max(0, k-n2), min(k, n1)
	logC := func(a, b int64) float64 {
		x, _ := math.Lgamma(float64(a + 1))
		y, _ := math.Lgamma(float64(b + 1))
		z, _ := math.Lgamma(float64(a - b + 1))
		return x - y - z
	}
	total := logC(n, k)
	logP := func(x int64) float64 { return logC(n1, x) + logC(n2, k-x) - total }
	observed := logP(k1)
	const tolerance = 1e-7 // relative, so ties in floating point count as "as extreme"
	p := 0.0
	for x := lo; x <= hi; x++ {
		if lp := logP(x); lp <= observed+tolerance {
			p += math.Exp(lp)
		}
	}
	return min(p, 1)
}
