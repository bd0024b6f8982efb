package results

import (
	"strings"
	"testing"
	"time"
)

func TestGapBuckets(t *testing.T) {
	t.Parallel()
	g := GapBucketsFor(50*time.Millisecond, 2*time.Millisecond) // 47 ms .. 53 ms in 60 buckets of 100 µs
	if g.Lo != Seconds(47*time.Millisecond) || g.Width != Seconds(100*time.Microsecond) || len(g.Buckets) != 60 {
		t.Fatalf("layout %v + %v × %d", g.Lo, g.Width, len(g.Buckets))
	}
	g.Add(46*time.Millisecond, OK)
	g.Add(60*time.Millisecond, Status502)
	for range 3 {
		g.Add(50*time.Millisecond+20*time.Microsecond, OK)
	}
	g.Add(50*time.Millisecond+50*time.Microsecond, Status502)
	g.Add(50*time.Millisecond+90*time.Microsecond, Status502)
	g.Add(48*time.Millisecond, NoResponse)
	if g.Below.Requests != 1 || g.Above.Errors != 1 {
		t.Fatalf("outside: below %+v above %+v", g.Below, g.Above)
	}
	i := g.Worst()
	if i != 30 || g.Buckets[i].Requests != 5 || g.Buckets[i].Classes[Status502] != 2 {
		t.Fatalf("worst bucket %d: %+v", i, g.Buckets[max(i, 0)])
	}
	if line := g.WorstLine(); !strings.HasPrefix(line, "50.00ms–50.10ms: 2 errors in 5 (40.0% (") {
		t.Fatalf("worst line %q", line)
	}
	// errors from the 48.0 ms bucket to the 50.0 ms one: 3 errors in the 6 requests in the
	// buckets (the 46 and 60 ms ones are outside them)
	if line := g.WindowLine(); !strings.HasPrefix(line, "opens at 48.00ms, 2.10ms wide (first to last bucket with errors): 3 errors in 6, 50.0% (") {
		t.Fatalf("window line %q", line)
	}
	o := g.NewGapsLike()
	o.Add(50*time.Millisecond, Status502)
	o.AddAfterError(OK)
	if err := g.Merge(o); err != nil || g.Buckets[30].Errors != 3 || g.AfterError.Requests != 1 {
		t.Fatalf("merge: %v, %+v, apart %+v", err, g.Buckets[30], g.AfterError)
	}
	if err := g.Merge(GapBucketsFor(time.Second, 10*time.Millisecond)); err == nil {
		t.Fatal("merged buckets of another layout")
	}
	if g := (&Gaps{Buckets: make([]GapBucket, 3), Width: 1}); g.WorstLine() != "" || g.WindowLine() != "" {
		t.Fatal("a worst bucket or a window without errors")
	}
}
