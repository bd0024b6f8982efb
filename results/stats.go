package results

import (
	"math"
	"strconv"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a confidence interval for a rate (a proportion of requests).
type Interval struct {
	// Rate is the observed rate k/n.
	Rate float64
	// Lo and Hi bound it. For k = 0, Lo is 0 and Hi is a one-sided upper bound.
	Lo, Hi float64
	// Exact says Lo and Hi come from the exact (Clopper–Pearson) method rather than Wilson's.
	Exact bool
}

// exactBelow is the event count under which the exact interval is used: Wilson's score
// interval is good for moderate counts but too narrow at the very low counts gatecrash lives
// with (a 502 rate of 3 in a million).
const exactBelow = 10

// RateInterval returns the 95% confidence interval for k events in n trials: Wilson's score
// interval for k >= 10, the exact Clopper–Pearson interval below that, and for k = 0 the
// one-sided 95% upper bound (1 - 0.05^(1/n), about 3/n: the "rule of three").
func RateInterval(k, n int64) Interval {
	if n <= 0 {
		return Interval{}
	}
	p := float64(k) / float64(n)
	switch {
	case k == 0:
		return Interval{Rate: 0, Lo: 0, Hi: 1 - math.Pow(0.05, 1/float64(n)), Exact: true}
	case k < exactBelow || n-k < exactBelow:
		lo, hi := ClopperPearson(k, n, 0.95)
		return Interval{Rate: p, Lo: lo, Hi: hi, Exact: true}
	}
	lo, hi := Wilson(k, n, 1.959963984540054)
	return Interval{Rate: p, Lo: lo, Hi: hi}
}

// Wilson returns Wilson's score interval for k successes in n trials at normal quantile z.
func Wilson(k, n int64, z float64) (lo, hi float64) {
	nf := float64(n)
	p := float64(k) / nf
	den := 1 + z*z/nf
	center := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return math.Max(0, center-half), math.Min(1, center+half)
}

// ClopperPearson returns the exact two-sided interval at confidence level conf (e.g. 0.95)
// for k successes in n trials, from quantiles of the Beta distribution.
func ClopperPearson(k, n int64, conf float64) (lo, hi float64) {
	alpha := 1 - conf
	if k > 0 {
		lo = distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(alpha / 2)
	}
	hi = 1
	if k < n {
		hi = distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(1 - alpha/2)
	}
	return lo, hi
}

// Significant reports whether two rates differ at 95%: their intervals do not overlap. This
// is conservative (it misses some real differences) but never claims one that is not there.
func Significant(a, b Interval) bool { return a.Hi < b.Lo || b.Hi < a.Lo }

// String formats the interval for a table: "0 (< 3.0e-06)", "2.1e-03 (1.9e-03..2.3e-03)".
func (iv Interval) String() string {
	if iv.Rate == 0 {
		return "0 (< " + sci(iv.Hi) + ")"
	}
	return sci(iv.Rate) + " (" + sci(iv.Lo) + ".." + sci(iv.Hi) + ")"
}

func sci(f float64) string { return FormatRate(f) }

// FormatRate prints a rate in the short scientific form used in tables: 2.1e-03.
func FormatRate(f float64) string { return strconv.FormatFloat(f, 'e', 1, 64) }

// Percent formats the interval in percent ("50.2% (44.6%..55.7%)") when the rate is at least
// 1% — rates near 1 read badly as 9.9e-01 — and as String does below that.
func (iv Interval) Percent() string {
	if iv.Rate < 0.01 {
		return iv.String()
	}
	pct := func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }
	return pct(iv.Rate) + " (" + pct(iv.Lo) + ".." + pct(iv.Hi) + ")"
}

// Pct formats the interval in the HTML report's one notation, every figure a percentage (see
// FormatPercent): "4.8% (2.9%..7.8%)", "0.012% (0.0080%..0.018%)", "0% (< 2.0e-4%)".
func (iv Interval) Pct() string {
	if iv.Rate == 0 {
		return "0% (< " + FormatPercent(iv.Hi) + ")"
	}
	return FormatPercent(iv.Rate) + " (" + FormatPercent(iv.Lo) + ".." + FormatPercent(iv.Hi) + ")"
}

// FormatPercent prints a rate (0..1) as a percentage: one decimal from 1% ("4.8%", "100.0%"),
// two significant digits down to 0.01% ("0.48%", "0.012%"), and scientific below that, where
// a row of zeros would hide the exponent ("3.2e-4%": 3.2 in a million).
func FormatPercent(f float64) string {
	pct := 100 * f
	switch {
	case f == 0:
		return "0%"
	case pct >= 1:
		return strconv.FormatFloat(pct, 'f', 1, 64) + "%"
	case pct >= 0.01:
		// two significant digits: 0.48, 0.012
		digits := 1 - int(math.Floor(math.Log10(pct)))
		return strconv.FormatFloat(pct, 'f', digits, 64) + "%"
	}
	return strconv.FormatFloat(pct, 'e', 1, 64) + "%"
}

// RequestsToShowBelow returns how many requests a run needs for the 95% upper bound of a rate
// (RateInterval's Hi) to fall below bound when the rate stays what k errors in n requests
// show — for k = 0, the requests without a single error that show it — and false when no
// number of requests can (the observed rate is at or above bound).
func RequestsToShowBelow(k, n int64, bound float64) (int64, bool) {
	if bound <= 0 || bound > 1 || n <= 0 && k > 0 {
		return 0, false
	}
	if k == 0 {
		// 1 - 0.05^(1/N) < bound  ⇔  N > ln 0.05 / ln(1 - bound)
		if bound >= 1 {
			return 1, true
		}
		return int64(math.Floor(math.Log(0.05)/math.Log1p(-bound))) + 1, true
	}
	p := float64(k) / float64(n)
	if p >= bound {
		return 0, false
	}
	shows := func(N int64) bool {
		return RateInterval(int64(math.Round(p*float64(N))), N).Hi < bound
	}
	lo, hi := n, n
	for !shows(hi) {
		if hi > math.MaxInt64/4 {
			return 0, false
		}
		lo, hi = hi, hi*2
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if shows(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi, true
}

// FormatShortCount prints a large count briefly: 1,500, 42.0k, 3.0M, 1.2G.
func FormatShortCount(n int64) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + "G"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	case n >= 1e5:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "k"
	}
	return FormatCount(n)
}
