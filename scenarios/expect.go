package scenarios

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/results"
)

// Expectations maps a variant name (or "all") to its thresholds.
type Expectations map[string][]Threshold

// Threshold is one check on a variant's result, e.g. `"502": 0`, `no-response: "< 1e-6"`,
// `p99: "< 50ms"`.
type Threshold struct {
	// Key is an outcome class ("502"), "errors" (every class but ok), or a latency percentile
	// of ok requests ("p50", "p90", "p99", "p99.9", "max").
	Key string
	Op  string // <, <=, >, >=, ==
	// Exactly one of these is the value compared: a count, a rate (a proportion of requests),
	// or a latency.
	Count   *int64
	Rate    *float64
	Latency *time.Duration
	Source  string // as written
	// PointEstimate checks a rate threshold against the observed rate alone, as gatecrash
	// did before: by default "502 < 1e-6" holds only when the 95% upper bound of the rate is
	// below 1e-6 (a short run with no error does not show a rare one is absent), and "> R"
	// only when the lower bound is above R.
	PointEstimate bool
	line          int
}

var percentiles = map[string]float64{"p50": 50, "p90": 90, "p99": 99, "p99.9": 99.9, "max": 100}

// parseExpect reads the expect section. variants are the variant names that exist.
func parseExpect(n *yaml.Node, variants map[string]bool) (Expectations, []error) {
	out := Expectations{}
	if n == nil || n.Kind == 0 {
		return out, nil
	}
	var errs []error
	at := func(x *yaml.Node, format string, args ...any) error {
		return &yamlconf.Error{Line: x.Line, Column: x.Column, Msg: fmt.Sprintf(format, args...)}
	}
	if n.Kind != yaml.MappingNode {
		return out, []error{at(n, "expect: a mapping of variant name (or all) to thresholds")}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		vk, vv := n.Content[i], n.Content[i+1]
		if vk.Value != "all" && !variants[vk.Value] {
			errs = append(errs, at(vk, "expect: no variant named %q; allowed: all, %s", vk.Value, strings.Join(sortedNames(variants), ", ")))
			continue
		}
		if vv.Kind != yaml.MappingNode {
			errs = append(errs, at(vv, "expect.%s: a mapping of class or percentile to threshold, e.g. \"502\": 0", vk.Value))
			continue
		}
		for j := 0; j+1 < len(vv.Content); j += 2 {
			tk, tv := vv.Content[j], vv.Content[j+1]
			th, err := parseThreshold(tk.Value, tv.Value)
			if err != nil {
				errs = append(errs, at(tv, "expect.%s.%s: %v", vk.Value, tk.Value, err))
				continue
			}
			th.line = tv.Line
			out[vk.Value] = append(out[vk.Value], th)
		}
	}
	return out, errs
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseExpectation reads one threshold written whole as "KEY OP VALUE" (gatecrash check
// --expect): "errors == 0", "502 < 1e-4", "no-response == 0", "p99 < 50ms".
func ParseExpectation(expr string) (Threshold, error) {
	s := strings.TrimSpace(expr)
	i := strings.IndexAny(s, "<>= ")
	if i <= 0 {
		return Threshold{}, fmt.Errorf("%q: want KEY OP VALUE, e.g. \"errors == 0\", \"502 < 1e-4\", \"p99 < 50ms\"", expr)
	}
	th, err := parseThreshold(s[:i], s[i:])
	if err != nil {
		return th, fmt.Errorf("%q: %w", expr, err)
	}
	return th, nil
}

// CheckAll evaluates thresholds against r, labelling the verdicts with name.
func CheckAll(name string, r *results.Result, ths []Threshold) []Verdict {
	out := make([]Verdict, len(ths))
	for i, th := range ths {
		out[i] = check(name, th, r)
	}
	return out
}

// parseThreshold reads "OP VALUE" (OP defaults to ==). For classes and "errors", an integer
// is a count and a number with a point or an exponent is a rate; percentiles take durations.
func parseThreshold(key, expr string) (Threshold, error) {
	th := Threshold{Key: key, Source: expr}
	if _, isPct := percentiles[key]; !isPct && key != "errors" {
		if _, err := results.ParseClass(key); err != nil {
			return th, fmt.Errorf("%q is neither an outcome class, errors, nor a percentile (p50, p90, p99, p99.9, max)", key)
		}
	}
	s := strings.TrimSpace(expr)
	th.Op = "=="
	for _, op := range []string{"<=", ">=", "==", "<", ">", "="} {
		if strings.HasPrefix(s, op) {
			th.Op, s = op, strings.TrimSpace(s[len(op):])
			break
		}
	}
	if th.Op == "=" {
		th.Op = "=="
	}
	if _, isPct := percentiles[key]; isPct {
		d, err := yamlconf.ParseDuration(s)
		if err != nil {
			return th, fmt.Errorf("%q: a latency threshold needs a duration, e.g. \"< 50ms\"", expr)
		}
		th.Latency = &d
		return th, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		th.Count = &n
		return th, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return th, fmt.Errorf("%q: want a count (0, \"> 0\", \"<= 10\") or a rate between 0 and 1 (\"< 1e-6\")", expr)
	}
	th.Rate = &f
	return th, nil
}

// Verdict is a threshold checked against a result.
type Verdict struct {
	Variant   string
	Threshold Threshold
	Actual    string
	Met       bool
	// Why says what the result could not show, and what would: "0 in 1,500 requests shows
	// < 2.0e-03; < 1e-06 needs ≥ 3.0M requests without one".
	Why string
}

// String reads like "fixed: 502 == 0 — met (actual 0)".
func (v Verdict) String() string {
	state := "met"
	if !v.Met {
		state = "NOT MET"
	}
	s := fmt.Sprintf("%s: %s %s %s — %s (actual %s)", v.Variant, v.Threshold.Key, v.Threshold.Op, thresholdValue(v.Threshold), state, v.Actual)
	if v.Why != "" {
		s += ": " + v.Why
	}
	return s
}

// UsePointEstimates makes every rate threshold compare the observed rate alone
// (Threshold.PointEstimate).
func (e Expectations) UsePointEstimates() {
	for _, ths := range e {
		for i := range ths {
			ths[i].PointEstimate = true
		}
	}
}

func thresholdValue(t Threshold) string {
	switch {
	case t.Count != nil:
		return strconv.FormatInt(*t.Count, 10)
	case t.Rate != nil:
		return strings.Replace(strconv.FormatFloat(*t.Rate, 'g', -1, 64), "e-0", "e-", 1) // 1e-6, not 1e-06
	}
	return t.Latency.String()
}

// Check evaluates the thresholds for variant (its own and "all") against r.
func (e Expectations) Check(variant string, r *results.Result) []Verdict {
	var out []Verdict
	for _, th := range append(append([]Threshold{}, e["all"]...), e[variant]...) {
		out = append(out, check(variant, th, r))
	}
	return out
}

func check(variant string, th Threshold, r *results.Result) Verdict {
	v := Verdict{Variant: variant, Threshold: th}
	var count int64
	switch {
	case th.Key == "errors":
		count = r.Errors()
	default:
		if c, err := results.ParseClass(th.Key); err == nil {
			count = r.Count(c)
		}
	}
	if r.Requests == 0 {
		// Nothing was measured: no threshold holds of it, not even "errors == 0".
		v.Actual, v.Why = "no requests", "the result holds no request to judge"
		return v
	}
	switch {
	case th.Count != nil:
		v.Actual = strconv.FormatInt(count, 10)
		v.Met = compare(float64(count), th.Op, float64(*th.Count))
		if count == 0 {
			// "errors == 0" is true of this run; what it shows of the rate is its bound.
			v.Actual = fmt.Sprintf("0 in %s: rate < %s", results.FormatCount(r.Requests), results.FormatRate(results.RateInterval(0, r.Requests).Hi))
		}
	case th.Rate != nil && th.PointEstimate:
		rate := float64(count) / float64(r.Requests)
		v.Actual = strconv.FormatFloat(rate, 'e', 2, 64) + " (point estimate)"
		v.Met = compare(rate, th.Op, *th.Rate)
	case th.Rate != nil:
		checkRate(&v, count, r.Requests)
	default:
		o := r.Outcomes[results.OK]
		if o == nil || o.Count == 0 {
			v.Actual = "no ok requests"
			return v
		}
		lat := o.Latency.Quantile(percentiles[th.Key])
		v.Actual = results.FormatDuration(lat)
		v.Met = compare(float64(lat), th.Op, float64(*th.Latency))
	}
	return v
}

// checkRate judges a rate threshold by the rate's 95% interval (results.RateInterval): "<"
// and "<=" hold when its upper bound is below the threshold, ">" and ">=" when its lower bound
// is above, "==" when the interval holds the threshold. When the observed rate is on the
// right side but the run was too short to show it, Why says how many requests would.
func checkRate(v *Verdict, k, n int64) {
	th := *v.Threshold.Rate
	iv := results.RateInterval(k, n)
	v.Actual = iv.String()
	switch v.Threshold.Op {
	case "<", "<=":
		v.Met = compare(iv.Hi, v.Threshold.Op, th)
		if v.Met || iv.Rate >= th {
			return
		}
		shown := fmt.Sprintf("%s in %s requests shows < %s", results.FormatCount(k), results.FormatCount(n), results.FormatRate(iv.Hi))
		need, ok := results.RequestsToShowBelow(k, n, th)
		switch {
		case !ok:
			v.Why = shown
		case k == 0:
			v.Why = fmt.Sprintf("%s; %s %s needs ≥ %s requests without one", shown, v.Threshold.Op, thresholdValue(v.Threshold), results.FormatShortCount(need))
		default:
			v.Why = fmt.Sprintf("%s; at the rate seen (%s), %s %s needs about %s requests", shown, results.FormatRate(iv.Rate),
				v.Threshold.Op, thresholdValue(v.Threshold), results.FormatShortCount(need))
		}
	case ">", ">=":
		v.Met = compare(iv.Lo, v.Threshold.Op, th)
		if !v.Met && iv.Rate > th {
			v.Why = fmt.Sprintf("the 95%% interval reaches down to %s; a longer run may show it", results.FormatRate(iv.Lo))
		}
	default:
		v.Met = iv.Lo <= th && th <= iv.Hi
	}
}

func compare(a float64, op string, b float64) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return a == b
}
