package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/internal/ctxwait"
	"github.com/gatecrash/gatecrash/results"
)

// HuntOptions say where to hunt a keep-alive race window and for how long.
type HuntOptions struct {
	// URL is the proxy under test; its upstream is Origin.
	URL      string
	Insecure bool
	// Origin is the fault server behind the proxy, closing idle connections (idle-close on
	// every connection): its counters tell, after each request, whether its idle timer had
	// fired first and whether the proxy opened a new connection.
	Origin     faultserver.Origin
	OriginName string
	// Timeout is the origin's idle timeout: where the search starts.
	Timeout time.Duration
	// Method is the requests' method (default POST: a proxy does not retry it, so a race is
	// seen by the client).
	Method string
	// Budget bounds the time spent sending requests (default 30 s); Precision is how closely
	// the window's edges are wanted (default 50 µs).
	Budget, Precision time.Duration
	// Seed makes the sampling gaps repeatable (0: random).
	Seed uint64
	Log  io.Writer
}

// Trial is one request sent after a chosen idle gap on the one client connection.
type Trial struct {
	// GapUs is the measured gap from the end of the previous response to this request.
	GapUs float64 `json:"gap_us"`
	// Fate is what the origin saw: "reused" (the request came on the connection before its
	// idle timer fired), "closed" (the timer fired first: the proxy raced the close or opened
	// a new connection after it), "fresh" (the proxy opened a new connection though the
	// origin had not closed the old one: its own idle window is shorter than the gap).
	Fate      string  `json:"fate"`
	Class     string  `json:"class"`
	LatencyUs float64 `json:"latency_us"`
	// AtS is when the request was sent, in seconds of load since the hunt began.
	AtS   float64 `json:"at_s"`
	Phase string  `json:"phase"`
}

func (t Trial) gap() time.Duration { return time.Duration(t.GapUs * 1e3) }
func (t Trial) failed() bool       { return t.Class != results.OK.String() }

// Edge is a located edge: it lies between Lo and Hi (both measured gaps); At is their middle.
// Open says no request was tried past the failures on that side: the edge is not bounded there
// (Lo or Hi is then the last failure's gap).
type Edge struct {
	AtUs float64 `json:"at_us"`
	LoUs float64 `json:"lo_us"`
	HiUs float64 `json:"hi_us"`
	Open bool    `json:"open,omitempty"`
}

func edge(lo, hi time.Duration) *Edge {
	return &Edge{AtUs: us(lo+hi) / 2, LoUs: us(lo), HiUs: us(hi)}
}

func (e *Edge) width() float64 { return e.HiUs - e.LoUs }

// String says where the edge is and how well it is known.
func (e *Edge) String() string {
	if e.Open {
		return fmt.Sprintf("%s (not bounded: no request tried past it)", fmtUs(e.AtUs))
	}
	return fmt.Sprintf("%s (± %.0f µs)", fmtUs(e.AtUs), e.width()/2)
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// HuntReport is what a hunt found.
type HuntReport struct {
	Role      string  `json:"role"` // "hunt"
	URL       string  `json:"url"`
	Origin    string  `json:"origin"`
	Method    string  `json:"method"`
	TimeoutUs float64 `json:"origin_timeout_us"`
	// CloseEdge is the gap from which the origin's idle timer fires before the request
	// arrives: below it the connection is reused, above it the proxy meets a closed one.
	CloseEdge *Edge `json:"close_edge,omitempty"`
	// Opens and Closes bound the gaps at which a reused connection failed (the race window).
	Opens  *Edge `json:"opens,omitempty"`
	Closes *Edge `json:"closes,omitempty"`
	// Inside is the failure rate per request sent at a gap inside the window (from the
	// uniform sampling phase).
	Inside *results.Interval `json:"inside,omitempty"`
	// InsideErrors of InsideTrials sampled inside the window.
	InsideErrors int64 `json:"inside_errors"`
	InsideTrials int64 `json:"inside_trials"`
	// ProxyDropsUs, when set, is a gap after which the proxy opened a new connection without
	// the origin having closed the old one (its idle window is shorter).
	ProxyDropsUs float64 `json:"proxy_drops_us,omitempty"`
	// FirstError is the first failed trial; FirstErrorAfterS the load time until it ended.
	FirstError       *Trial  `json:"first_error,omitempty"`
	FirstErrorAfterS float64 `json:"first_error_after_s,omitempty"`
	LoadS            float64 `json:"load_s"`
	Trials           []Trial `json:"trials"`
	// Gaps is the sampling phase's trials in idle-gap buckets, as a gap sweep's result has
	// them: what `gatecrash predict` reads.
	Gaps        *results.Gaps `json:"gaps,omitempty"`
	Interrupted bool          `json:"interrupted,omitempty"`
	Verdict     string        `json:"verdict"`
}

// hunter holds one hunt's state.
type hunter struct {
	o      HuntOptions
	t      *target
	c      *conn
	rng    *rand.Rand
	start  time.Time // first request
	until  time.Time // the budget's end
	end    time.Time // when the last response ended (the next gap counts from it)
	counts faultserver.Stats
	rep    *HuntReport
}

// errBudget ends a hunt whose time is up.
var errBudget = errors.New("budget spent")

// Hunt finds the idle gap at which a proxy's reused upstream connections fail against an
// origin that closes them after Timeout. It sends one request at a time on one client
// connection, so the proxy pools one upstream connection and the gap between a response and
// the next request is that connection's idle time (plus the time a request takes to pass the
// proxy). First it bisects for the gap at which the origin's close wins (the origin's
// counters tell each request's fate, no error needed), then steps past it until requests stop
// failing, then samples the window uniformly for its failure rate. It never retries; a
// failed request's client connection is replaced.
func Hunt(ctx context.Context, o HuntOptions) (*HuntReport, error) {
	if o.Timeout <= 0 {
		return nil, errors.New("hunt: the origin's idle timeout is not known; give it")
	}
	if o.Method == "" {
		o.Method = http.MethodPost
	}
	if o.Budget <= 0 {
		o.Budget = 30 * time.Second
	}
	if o.Precision <= 0 {
		o.Precision = 50 * time.Microsecond
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	t, err := newTarget(o.URL, o.Insecure)
	if err != nil {
		return nil, err
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	h := &hunter{o: o, t: t, rng: rand.New(rand.NewPCG(seed, 0x6875)),
		rep: &HuntReport{Role: "hunt", URL: o.URL, Origin: o.OriginName, Method: o.Method, TimeoutUs: us(o.Timeout)}}
	defer func() {
		if h.c != nil {
			h.c.close()
		}
	}()
	h.start = time.Now()
	h.until = h.start.Add(o.Budget)
	if h.counts, err = o.Origin.Snapshot(ctx); err != nil {
		return nil, fmt.Errorf("hunt: reading the origin's counters: %w", err)
	}
	if err := h.connect(ctx); err != nil {
		return nil, err
	}
	err = h.search(ctx)
	h.rep.LoadS = time.Since(h.start).Seconds()
	h.finish()
	switch {
	case err == nil, errors.Is(err, errBudget):
		return h.rep, nil
	case ctx.Err() != nil:
		h.rep.Interrupted = true
		h.rep.Verdict = "interrupted: " + h.rep.Verdict
		return h.rep, nil
	}
	return h.rep, err
}

// connect opens a new client connection and sends a request on it at once.
func (h *hunter) connect(ctx context.Context) error { return h.rewarm(ctx, true) }

// rewarm sends a request at once (on a new client connection when redial), so that the next
// gap counts from a response on a pooled upstream connection the origin has just used: after a
// failure the proxy's upstream connection is gone, and the next request would open a new one.
// It tries three times; a proxy that keeps failing, or closes the client connection after
// every answer, cannot be hunted through.
func (h *hunter) rewarm(ctx context.Context, redial bool) error {
	var last string
	for range 3 {
		if redial {
			if h.c != nil {
				h.c.close()
			}
			c, err := h.t.dial(ctx)
			if err != nil {
				return fmt.Errorf("hunt: connecting to %s: %w", h.o.URL, err)
			}
			h.c = c
		}
		resp, err := h.c.roundTrip(h.o.Method)
		if err != nil {
			return fmt.Errorf("hunt: a request sent at once to %s failed: %w", h.o.URL, err)
		}
		redial = resp.Close
		last = resp.Status
		if resp.Close {
			last += " with Connection: close"
		}
		if resp.StatusCode < 500 && !resp.Close {
			h.end = time.Now()
			if h.counts, err = h.o.Origin.Snapshot(ctx); err != nil {
				return fmt.Errorf("hunt: reading the origin's counters: %w", err)
			}
			return nil
		}
	}
	return fmt.Errorf("hunt: three requests sent at once to %s got %s: a hunt needs the proxy to answer and to keep the client connection open", h.o.URL, last)
}

// try sends one request gap after the last response and records its fate.
func (h *hunter) try(ctx context.Context, gap time.Duration, phase string) (Trial, error) {
	at := h.end.Add(gap)
	if at.After(h.until) {
		return Trial{}, errBudget
	}
	if !ctxwait.Exact(ctx, at) {
		return Trial{}, ctx.Err()
	}
	sent := time.Now()
	resp, rerr := h.c.roundTrip(h.o.Method)
	done := time.Now()
	tr := Trial{GapUs: us(sent.Sub(h.end)), LatencyUs: us(done.Sub(sent)), AtS: sent.Sub(h.start).Seconds(), Phase: phase}
	switch {
	case rerr != nil:
		tr.Class = classOf(rerr).String()
	default:
		tr.Class = results.ClassOfStatus(resp.StatusCode).String()
	}
	before := h.counts
	var err error
	if h.counts, err = h.o.Origin.Snapshot(ctx); err != nil {
		return tr, fmt.Errorf("hunt: reading the origin's counters: %w", err)
	}
	fired := h.counts.Faults["idle-close"] - before.Faults["idle-close"]
	opened := h.counts.ConnectionsAccepted - before.ConnectionsAccepted
	switch {
	case fired > 0:
		tr.Fate = "closed"
	case opened > 0:
		tr.Fate = "fresh"
	default:
		tr.Fate = "reused"
	}
	h.rep.Trials = append(h.rep.Trials, tr)
	if tr.failed() && h.rep.FirstError == nil {
		first := tr
		h.rep.FirstError = &first
		h.rep.FirstErrorAfterS = done.Sub(h.start).Seconds()
		fmt.Fprintf(h.o.Log, "first error after %.2f s of load: gap %s, %s\n", h.rep.FirstErrorAfterS, fmtUs(tr.GapUs), tr.Class)
	}
	h.end = done
	switch {
	case rerr != nil || resp.Close:
		// The proxy ended the client connection: start a new one, with its request at once.
		err = h.connect(ctx)
	case tr.failed():
		err = h.rewarm(ctx, false)
	}
	return tr, err
}

// classOf is the outcome class of a request that got no complete response.
func classOf(err error) results.Class {
	var ne interface{ Timeout() bool }
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return results.Timeout
	case errors.Is(err, io.EOF):
		return results.NoResponse
	case errors.Is(err, io.ErrUnexpectedEOF):
		return results.Truncated
	}
	return results.Reset
}

// search runs the hunt's three phases.
func (h *hunter) search(ctx context.Context) error {
	T := h.o.Timeout
	span := max(T/10, 5*time.Millisecond)
	lo, hi := max(T-span, 0), T+span
	fmt.Fprintf(h.o.Log, "hunting between %s and %s (origin idle timeout %s)\n", lo, hi, T)

	// Phase 1: the gap at which the origin's close wins, by bisection on each request's fate
	// (reused below, closed above). First a bracket: reused at lo, not at hi.
	for round := 0; ; round++ {
		tl, err := h.try(ctx, lo, "edge")
		if err != nil {
			return err
		}
		switch {
		case tl.Fate == "fresh":
			h.rep.ProxyDropsUs = tl.GapUs
			h.rep.Verdict = fmt.Sprintf("safe at these gaps: the proxy opened a new upstream connection after %s idle, before the origin's close at about %s", fmtUs(tl.GapUs), T)
			return h.confirmSafe(ctx, lo)
		case tl.Fate == "closed":
			if lo == 0 || round >= 8 {
				return fmt.Errorf("hunt: the origin closed connections idle for only %s; is its idle timeout %s?", fmtUs(tl.GapUs), T)
			}
			lo = max(lo-span, 0)
			continue
		}
		th, err := h.try(ctx, hi, "edge")
		if err != nil {
			return err
		}
		if th.Fate == "reused" {
			if round >= 8 {
				return fmt.Errorf("hunt: the origin kept a connection idle for %s open; does its idle-close fault fire on every connection?", fmtUs(th.GapUs))
			}
			hi += span
			continue
		}
		if th.Fate == "fresh" {
			h.rep.ProxyDropsUs = th.GapUs
		}
		break
	}
	// Then bisection, checked at both ends by a majority of three: a close that now and then
	// fires late, or a request that takes longer through the proxy, blurs the edge. A check
	// that fails widens the bracket and bisects again; after three the blurred edge is taken.
	for check := 0; ; check++ {
		for hi-lo > h.o.Precision/4 {
			mid := lo + (hi-lo)/2
			tm, err := h.try(ctx, mid, "edge")
			if err != nil {
				return err
			}
			if tm.Fate == "reused" {
				lo = max(lo, min(mid, tm.gap()))
			} else {
				hi = min(hi, max(mid, tm.gap()))
				if tm.Fate == "fresh" {
					h.rep.ProxyDropsUs = tm.GapUs
				}
			}
		}
		ok, err := h.agrees(ctx, lo, hi)
		if err != nil || ok || check == 3 {
			h.rep.CloseEdge = edge(lo, hi)
			if err != nil {
				return err
			}
			break
		}
		w := max(4*(hi-lo), 4*h.o.Precision)
		lo, hi = max(lo-w, 0), hi+w
	}
	edgeAt := time.Duration(h.rep.CloseEdge.HiUs * 1e3)
	fmt.Fprintf(h.o.Log, "the origin's close wins from a gap of %s\n", fmtUs(h.rep.CloseEdge.AtUs))
	if h.rep.ProxyDropsUs > 0 && time.Duration(h.rep.ProxyDropsUs*1e3) <= edgeAt+h.o.Precision {
		h.rep.Verdict = fmt.Sprintf("safe: the proxy opened a new upstream connection after %s idle, no later than the origin's close", fmtUs(h.rep.ProxyDropsUs))
		return h.confirmSafe(ctx, edgeAt)
	}

	// Phase 2: step past the edge until requests stop failing — 8 requests in a row past the
	// last failure that met the closed connection and did not fail, or 12 with no failure —
	// each step twice the last after a request that did not fail, back to the first after
	// one that did, so a wide window is crossed in few requests.
	step := h.o.Precision / 2
	lastFail, clean, stride := time.Duration(-1), 0, step
	for g := edgeAt - 2*step; (lastFail < 0 || clean < 8) && clean < 12 && g < edgeAt+span; g += stride {
		tr, err := h.try(ctx, g, "step")
		if err != nil {
			return err
		}
		switch {
		case tr.failed():
			lastFail, clean, stride = tr.gap(), 0, step
		case tr.Fate != "reused":
			clean++
			stride *= 2
		}
	}
	if lastFail < 0 {
		fmt.Fprintf(h.o.Log, "no failure past the close: sampling around it to be sure\n")
	}

	// Phase 3: sample uniformly around the failures for the window's failure rate (these
	// samples alone go into Gaps), and, turn about, inside the brackets of its two edges
	// until each is known to Precision.
	from := edgeAt - 8*step
	to := max(lastFail, edgeAt) + 8*step
	h.rep.Gaps = sampleGaps(from, to, max(step, (to-from)/60))
	for i := 0; ; i++ {
		phase, lo, hi := "sample", from, to
		if i%3 != 0 {
			opening := i%3 == 1
			switch e := h.edges(opening); {
			case e == nil:
			case e.Open && opening:
				phase, lo, hi = "edge", max(time.Duration(e.LoUs*1e3)-16*step, 0), time.Duration(e.LoUs*1e3)
			case e.Open:
				phase, lo, hi = "edge", time.Duration(e.HiUs*1e3), time.Duration(e.HiUs*1e3)+16*step
			case e.width() > us(2*h.o.Precision):
				phase, lo, hi = "edge", time.Duration(e.LoUs*1e3), time.Duration(e.HiUs*1e3)
			}
		}
		tr, err := h.try(ctx, lo+time.Duration(h.rng.Int64N(int64(hi-lo)+1)), phase)
		if err != nil {
			return err
		}
		if phase == "sample" {
			h.rep.Gaps.Add(tr.gap(), mustClass(tr.Class))
			if h.enough() {
				return nil
			}
		}
	}
}

// sampleGaps lays out buckets of width w over [from, to].
func sampleGaps(from, to, w time.Duration) *results.Gaps {
	w = max(w, time.Microsecond)
	n := int((to-from)/w) + 1
	return &results.Gaps{Lo: results.Seconds(from), Width: results.Seconds(w), Buckets: make([]results.GapBucket, n)}
}

func mustClass(s string) results.Class {
	c, err := results.ParseClass(s)
	if err != nil {
		return results.Reset
	}
	return c
}

// enough says whether the sampling phase has measured the window well: 30 failures inside
// it or 400 samples, and both edges known to ±Precision (or 800 samples).
func (h *hunter) enough() bool {
	w, ok := h.rep.Gaps.Window()
	n := h.samples()
	if !ok || w.Errors < 30 && n < 400 {
		return false
	}
	sharp := func(e *Edge) bool { return e == nil || !e.Open && e.width() <= us(2*h.o.Precision) }
	return n >= 800 || sharp(h.edges(true)) && sharp(h.edges(false))
}

// edges returns the window's opening edge (or its closing one): it lies between the lowest
// failing gap and the gap below it past which enough requests did not fail that, had they
// been inside the window, at least one would have failed with 95% probability (and the other
// way round for the closing edge). Nil before any failure.
func (h *hunter) edges(opening bool) *Edge {
	var fails, oks []time.Duration
	for _, t := range h.rep.Trials {
		if t.failed() {
			fails = append(fails, t.gap())
		} else if t.Fate != "fresh" {
			oks = append(oks, t.gap())
		}
	}
	if len(fails) == 0 {
		return nil
	}
	n0 := h.cleanRun()
	if opening {
		f := slices.Min(fails)
		below := slices.DeleteFunc(oks, func(g time.Duration) bool { return g >= f })
		slices.Sort(below)
		slices.Reverse(below)
		if len(below) == 0 {
			return &Edge{AtUs: us(f), LoUs: us(f), HiUs: us(f), Open: true}
		}
		return edge(below[min(n0, len(below))-1], f)
	}
	f := slices.Max(fails)
	above := slices.DeleteFunc(oks, func(g time.Duration) bool { return g <= f })
	slices.Sort(above)
	if len(above) == 0 {
		return &Edge{AtUs: us(f), LoUs: us(f), HiUs: us(f), Open: true}
	}
	return edge(f, above[min(n0, len(above))-1])
}

// cleanRun is how many requests in a row must not fail before a gap counts as outside the
// window: enough that at the window's failure rate (its lower 95% bound) one would have
// failed with 95% probability; 3 at least, 30 at most.
func (h *hunter) cleanRun() int {
	p := 0.3
	if h.rep.Gaps != nil {
		if w, ok := h.rep.Gaps.Window(); ok && w.Errors > 0 && w.P.Lo > 0 {
			p = w.P.Lo
		}
	}
	return min(max(int(math.Ceil(math.Log(0.05)/math.Log1p(-p))), 3), 30)
}

func (h *hunter) samples() int {
	n := 0
	for _, t := range h.rep.Trials {
		if t.Phase == "sample" {
			n++
		}
	}
	return n
}

// agrees checks a bisected edge: of 3 requests at each end, at most one may have the other
// fate (a timer that fires late now and then makes single requests lie).
func (h *hunter) agrees(ctx context.Context, lo, hi time.Duration) (bool, error) {
	wrong := 0
	for range 3 {
		tl, err := h.try(ctx, lo, "check")
		if err != nil {
			return false, err
		}
		th, err := h.try(ctx, hi, "check")
		if err != nil {
			return false, err
		}
		if tl.Fate != "reused" {
			wrong++
		}
		if th.Fate == "reused" {
			wrong += 10
		}
	}
	return wrong%10 <= 1 && wrong/10 <= 1, nil
}

// confirmSafe samples gaps from g up to the origin's timeout and past it: a proxy that drops
// its idle connections first should give no failure there.
func (h *hunter) confirmSafe(ctx context.Context, g time.Duration) error {
	hi := h.o.Timeout + max(h.o.Timeout/10, 5*time.Millisecond)
	h.rep.Gaps = sampleGaps(g, hi, max((hi-g)/60, time.Microsecond))
	for range 60 {
		tr, err := h.try(ctx, g+time.Duration(h.rng.Int64N(int64(hi-g)+1)), "sample")
		if err != nil {
			return err
		}
		h.rep.Gaps.Add(tr.gap(), mustClass(tr.Class))
	}
	return nil
}

// finish works out the window and the verdict from the trials.
func (h *hunter) finish() {
	r := h.rep
	var fails []Trial
	for _, t := range r.Trials {
		if t.failed() {
			fails = append(fails, t)
		}
	}
	if r.Gaps != nil {
		if w, ok := r.Gaps.Window(); ok && w.Errors > 0 {
			r.InsideErrors, r.InsideTrials = w.Errors, w.Requests
			p := w.P
			r.Inside = &p
		}
	}
	if len(fails) == 0 {
		if r.Verdict == "" {
			r.Verdict = fmt.Sprintf("no failure in %d requests around the origin's close", len(r.Trials))
			if r.CloseEdge == nil {
				r.Verdict += " (the close was not located)"
			}
		}
		return
	}
	r.Opens, r.Closes = h.edges(true), h.edges(false)
	r.Verdict = fmt.Sprintf("RACE: a connection reused after %s to %s idle fails", fmtUs(r.Opens.AtUs), fmtUs(r.Closes.AtUs))
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func fmtUs(v float64) string { return fmt.Sprintf("%.3f ms", v/1e3) }

// WriteText prints the report for a person.
func (r *HuntReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "hunt          %s %s → origin %s, idle timeout %s\n", r.Method, r.URL, r.Origin, fmtUs(r.TimeoutUs))
	fmt.Fprintf(w, "requests      %d in %.1f s of load, one at a time on one connection\n", len(r.Trials), r.LoadS)
	if e := r.CloseEdge; e != nil {
		fmt.Fprintf(w, "origin close  wins from a gap of %s (between %s and %s)\n", fmtUs(e.AtUs), fmtUs(e.LoUs), fmtUs(e.HiUs))
	}
	if r.ProxyDropsUs > 0 {
		fmt.Fprintf(w, "proxy         opened a new upstream connection after %s idle\n", fmtUs(r.ProxyDropsUs))
	}
	if r.Opens != nil {
		fmt.Fprintf(w, "race window   opens at %s, closes at %s: %.0f µs wide\n", r.Opens, r.Closes, r.Closes.AtUs-r.Opens.AtUs)
	}
	if r.Inside != nil {
		fmt.Fprintf(w, "inside it     %s of requests fail (%s–%s; %d of %d sampled)\n", results.FormatPercent(r.Inside.Rate),
			results.FormatPercent(r.Inside.Lo), results.FormatPercent(r.Inside.Hi), r.InsideErrors, r.InsideTrials)
	}
	if f := r.FirstError; f != nil {
		fmt.Fprintf(w, "first error   after %.2f s of load: a request at gap %s got %s\n", r.FirstErrorAfterS, fmtUs(f.GapUs), f.Class)
	}
	fmt.Fprintf(w, "verdict       %s\n", r.Verdict)
}

// IdleTimeout returns the idle timeout of an origin's fault plan: its idle-close fault, which
// must act on every connection at a fixed time for a hunt to read each request's fate.
func IdleTimeout(cfg *faultserver.Config) (time.Duration, error) {
	for _, f := range cfg.Faults {
		ic, ok := f.(*faultserver.IdleClose)
		if !ok {
			continue
		}
		if sel := ic.Sel(); sel.Nth != 0 || sel.Every > 1 || sel.Probability != nil && *sel.Probability < 1 {
			return 0, errors.New("the origin's idle-close fault acts only on some idle periods (probability, every or nth); a hunt needs it on every one")
		}
		if ic.Jitter > 0 {
			return 0, fmt.Errorf("the origin's idle-close fault has jitter %s; a hunt needs one timeout (set jitter 0)", ic.Jitter)
		}
		return ic.Timeout.D(), nil
	}
	return 0, errors.New("the origin has no idle-close fault: nothing closes its idle connections, so there is no race to hunt (add idle-close, e.g. --fault idle-close:timeout=5s)")
}

// MedianLatency is the median time of the requests that succeeded: a gap is measured from a
// response to the next request, so requests at gap g arrive g plus this apart.
func (r *HuntReport) MedianLatency() time.Duration {
	var ls []float64
	for _, t := range r.Trials {
		if !t.failed() {
			ls = append(ls, t.LatencyUs)
		}
	}
	if len(ls) == 0 {
		return 0
	}
	slices.Sort(ls)
	return time.Duration(ls[len(ls)/2] * 1e3)
}
