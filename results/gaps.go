package results

import (
	"fmt"
	"time"
)

// Gaps counts outcomes by the idle gap before each request: how long the client's
// connection (and so, through a proxy that reuses one upstream connection per client
// connection, the upstream one) sat idle. A gap-sweep load fills it; its error rate against
// the gap is the keep-alive race drawn: flat, with a spike where the gap crosses the origin's
// idle timeout.
type Gaps struct {
	// Lo is the lower edge of the first bucket, Width each bucket's width.
	Lo    Seconds `json:"lo"`
	Width Seconds `json:"width"`
	// Buckets are the gaps from Lo up, each Width wide.
	Buckets []GapBucket `json:"buckets"`
	// Below and Above count requests whose gap fell outside the buckets (the first request
	// of each connection has no gap and is not counted).
	Below GapBucket `json:"below"`
	Above GapBucket `json:"above"`
	// AfterError counts, apart from the buckets, the requests of a one-connection sweep that
	// followed an error that drops the upstream connection (502, 504, the connection ending:
	// Class.DropsUpstream): each went on a new upstream connection and is no reuse at its
	// gap. In the buckets they would halve the failure rate inside the window (a failure,
	// then a request that cannot race, then one that can: the sweep's steps alternate). Zero
	// for a load of several connections, whose requests' upstream connections the client
	// cannot tell.
	AfterError GapBucket `json:"after_error"`
	// Marks are the timeouts the race is between, as the run's configuration set them — the
	// origin's idle timeout, the proxy's idle window — drawn on the race-window plot. None
	// when the run did not know them (a bare gatecrash load).
	Marks []GapMark `json:"marks,omitempty"`
}

// GapMark is one timeout on the idle-gap axis.
type GapMark struct {
	At Seconds `json:"at"`
	// What names it: "origin idle timeout", "proxy idle window", "hop1 client idle timeout";
	// a server's close ends in "idle timeout" (drawn dashed), a pool's in "idle window".
	What string `json:"what"`
}

// MinGapRequests is how many requests a gap bucket needs before its error rate is drawn as a
// point of the line: below it one error reads as a spike of 50% or 100%. Such buckets are
// drawn on their own, hollow.
const MinGapRequests = 10

// GapBucket is what happened to the requests with a gap in one bucket.
type GapBucket struct {
	Requests int64 `json:"requests"`
	// Errors counts the requests with an error outcome; Classes splits them by class.
	Errors  int64           `json:"errors"`
	Classes map[Class]int64 `json:"classes,omitempty"`
}

// GapBucketsFor lays out buckets for a gap sweep of center ± spread: the sweep plus half a
// spread either side (the measured gap runs a little over the one waited), in 60 buckets.
func GapBucketsFor(center, spread time.Duration) *Gaps {
	const n = 60
	lo := max(center-spread-spread/2, 0)
	hi := center + spread + spread/2
	width := max((hi-lo)/n, time.Microsecond)
	return &Gaps{Lo: Seconds(lo), Width: Seconds(width), Buckets: make([]GapBucket, n)}
}

// NewGapsLike returns empty buckets with g's layout.
func (g *Gaps) NewGapsLike() *Gaps {
	return &Gaps{Lo: g.Lo, Width: g.Width, Buckets: make([]GapBucket, len(g.Buckets)), Marks: g.Marks}
}

// Add counts one request with idle gap d and outcome c.
func (g *Gaps) Add(d time.Duration, c Class) { g.bucket(d).count(c) }

// AddAfterError counts one request that followed an error on the sweep's one connection.
func (g *Gaps) AddAfterError(c Class) { g.AfterError.count(c) }

func (b *GapBucket) count(c Class) {
	b.Requests++
	if c.IsError() {
		b.Errors++
		if b.Classes == nil {
			b.Classes = make(map[Class]int64)
		}
		b.Classes[c]++
	}
}

func (g *Gaps) bucket(d time.Duration) *GapBucket {
	i := int((d - time.Duration(g.Lo)) / time.Duration(g.Width))
	switch {
	case d < time.Duration(g.Lo):
		return &g.Below
	case i >= len(g.Buckets):
		return &g.Above
	}
	return &g.Buckets[i]
}

// Merge adds o into g; it fails when the layouts differ.
func (g *Gaps) Merge(o *Gaps) error {
	if o == nil {
		return nil
	}
	if g.Lo != o.Lo || g.Width != o.Width || len(g.Buckets) != len(o.Buckets) {
		return fmt.Errorf("gap buckets differ (%v+%v×%d vs %v+%v×%d)", g.Lo, g.Width, len(g.Buckets), o.Lo, o.Width, len(o.Buckets))
	}
	for i := range g.Buckets {
		g.Buckets[i].add(o.Buckets[i])
	}
	g.Below.add(o.Below)
	g.Above.add(o.Above)
	g.AfterError.add(o.AfterError)
	return nil
}

func (b *GapBucket) add(o GapBucket) {
	b.Requests += o.Requests
	b.Errors += o.Errors
	for c, n := range o.Classes {
		if b.Classes == nil {
			b.Classes = make(map[Class]int64)
		}
		b.Classes[c] += n
	}
}

// Start returns the lower edge of bucket i.
func (g *Gaps) Start(i int) time.Duration {
	return time.Duration(g.Lo) + time.Duration(i)*time.Duration(g.Width)
}

// Worst returns the bucket with the most errors (the earliest of equals), or -1 when no
// bucket has any.
func (g *Gaps) Worst() int {
	best := -1
	for i, b := range g.Buckets {
		if b.Errors > 0 && (best < 0 || b.Errors > g.Buckets[best].Errors) {
			best = i
		}
	}
	return best
}

// WorstLine says where the race is: the gap bucket with the most errors and its rate, e.g.
// "49.8ms–49.9ms: 3 errors in 12 (2.5e-01 (5.5e-02..5.7e-01))"; "" when no bucket has errors.
func (g *Gaps) WorstLine() string {
	i := g.Worst()
	if i < 0 {
		return ""
	}
	b := g.Buckets[i]
	return fmt.Sprintf("%s–%s: %s errors in %s (%s)", FormatDuration(g.Start(i)), FormatDuration(g.Start(i+1)),
		FormatCount(b.Errors), FormatCount(b.Requests), RateInterval(b.Errors, b.Requests).Percent())
}

// total counts the requests in the buckets.
func (g *Gaps) total() int64 {
	var n int64
	for _, b := range g.Buckets {
		n += b.Requests
	}
	return n
}
