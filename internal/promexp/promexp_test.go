package promexp

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatecrash/gatecrash/results"
)

// TestLatencyBuckets: the classic buckets are cumulative counts of the values at most each
// bound (a value past 60 s is only in the count), and the native buckets hold every value at
// the index base^(i-1) < v <= base^i.
func TestLatencyBuckets(t *testing.T) {
	t.Parallel()
	h := results.NewHistogram()
	for _, d := range []time.Duration{40 * time.Microsecond, 60 * time.Microsecond, 2 * time.Millisecond, 70 * time.Second} {
		h.RecordDuration(d)
	}
	var m dto.Metric
	desc := prometheus.NewDesc("x_seconds", "x", []string{"class"}, nil)
	if err := Latency(desc, h, "ok").Write(&m); err != nil {
		t.Fatal(err)
	}
	hist := m.Histogram
	want := map[float64]uint64{50e-6: 1, 100e-6: 2, 1e-3: 2, 2.5e-3: 3, 60: 3}
	for _, b := range hist.Bucket {
		if n, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != n {
			t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), n)
		}
	}
	if hist.GetSampleCount() != 4 || m.Label[0].GetValue() != "ok" {
		t.Fatalf("count %d, labels %v", hist.GetSampleCount(), m.Label)
	}
	var total int64
	var c int64
	for _, d := range hist.PositiveDelta {
		c += d
		total += c
	}
	if total != 4 {
		t.Fatalf("native buckets hold %d of 4", total)
	}
	for v, i := range map[float64]int{1: 0, 2: 8, 0.5: -8, 1.05: 1, 1.0905: 1, 1.0906: 2} {
		if got := nativeIndex(v); got != i {
			t.Errorf("nativeIndex(%v) = %d, want %d", v, got, i)
		}
	}
	// An empty histogram is a series at zero, not a missing one.
	var empty dto.Metric
	Latency(desc, nil, "502").Write(&empty)
	if empty.Histogram.GetSampleCount() != 0 || len(empty.Histogram.Bucket) != len(Buckets) {
		t.Fatalf("empty histogram: %v", empty.Histogram)
	}
}
