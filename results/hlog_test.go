package results

import (
	"bytes"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestIntervalLogAddsUpToTotals feeds three growing snapshots of one run and reads the log
// back with hdrhistogram-go's own reader: per class, the intervals add up to the last
// snapshot's histogram, bucket for bucket, and the intervals tile the run's time.
func TestIntervalLogAddsUpToTotals(t *testing.T) {
	start := time.Date(2026, 11, 21, 10, 0, 0, 250e6, time.UTC)
	r := &Result{Schema: Schema, Start: start, Outcomes: map[Class]*Outcome{}}
	record := func(c Class, n int, lat time.Duration) {
		o := r.Outcomes[c]
		if o == nil {
			o = &Outcome{Latency: NewHistogram()}
			r.Outcomes[c] = o
		}
		for range n {
			o.Latency.RecordDuration(lat)
		}
		o.Count += int64(n)
		r.Requests += int64(n)
	}
	var buf bytes.Buffer
	l := NewIntervalLog(&buf)
	snap := func(at time.Duration) {
		t.Helper()
		r.End = start.Add(at)
		if err := l.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	record(OK, 100, time.Millisecond)
	snap(time.Second)
	record(OK, 50, 3*time.Millisecond)
	record(Status502, 2, 40*time.Millisecond)
	snap(2 * time.Second)
	snap(3 * time.Second) // nothing new: no lines
	record(NoResponse, 1, 5*time.Second)
	record(OK, 7, 9*time.Millisecond)
	snap(3500 * time.Millisecond)

	text := buf.String()
	for _, want := range []string{"#[StartTime: 1795255200.250 ", "#[BaseTime: 1795255200.250 ", "Tag=502,1.000,1.000,40.", "Tag=no-response,3.000,0.500,"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	rd := hdrhistogram.NewHistogramLogReader(strings.NewReader(text))
	sums := map[string]*hdrhistogram.Histogram{}
	lines := 0
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		lines++
		if h.StartTimeMs() < start.UnixMilli() || h.EndTimeMs() > start.Add(3500*time.Millisecond).UnixMilli() {
			t.Errorf("interval %s %d..%d ms outside the run", h.Tag(), h.StartTimeMs(), h.EndTimeMs())
		}
		if sums[h.Tag()] == nil {
			sums[h.Tag()] = NewHistogram().Histogram
		}
		sums[h.Tag()].Merge(h)
	}
	if lines != 5 { // ok ×3, 502, no-response
		t.Errorf("%d interval lines, want 5:\n%s", lines, text)
	}
	for c, o := range r.Outcomes {
		got := sums[c.String()]
		if got == nil || !got.Equals(o.Latency.Histogram) {
			t.Errorf("class %s: the intervals do not add up to the result's histogram (%v)", c, got)
		}
	}
}

// TestIntervalLogRefusesAnotherRun: a snapshot with fewer requests than the one before cannot
// come from the same run.
func TestIntervalLogRefusesAnotherRun(t *testing.T) {
	h := NewHistogram()
	h.RecordDuration(time.Millisecond)
	h.RecordDuration(time.Millisecond)
	r := &Result{Start: time.Now(), Outcomes: map[Class]*Outcome{OK: {Count: 2, Latency: h}}}
	r.End = r.Start.Add(time.Second)
	l := NewIntervalLog(&bytes.Buffer{})
	if err := l.Add(r); err != nil {
		t.Fatal(err)
	}
	h2 := NewHistogram()
	h2.RecordDuration(time.Millisecond)
	r2 := &Result{Start: r.Start, End: r.End.Add(time.Second), Outcomes: map[Class]*Outcome{OK: {Count: 1, Latency: h2}}}
	if err := l.Add(r2); err == nil || !strings.Contains(err.Error(), "not the same run") {
		t.Fatalf("err = %v, want a refusal naming another run", err)
	}
}
