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
	o := g.NewGapsLike()
	o.Add(50*time.Millisecond, Status502)
	if err := g.Merge(o); err != nil || g.Buckets[30].Errors != 3 {
		t.Fatalf("merge: %v, %+v", err, g.Buckets[30])
	}
	if err := g.Merge(GapBucketsFor(time.Second, 10*time.Millisecond)); err == nil {
		t.Fatal("merged buckets of another layout")
	}
	if (&Gaps{Buckets: make([]GapBucket, 3), Width: 1}).WorstLine() != "" {
		t.Fatal("a worst bucket without errors")
	}
}
