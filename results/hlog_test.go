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

// TestIntervalLogResumes writes segment 0 of a run (three intervals, the last one past the
// checkpoint that survived the kill, then a torn line), trims it as a resume does and appends
// segment 1 after a downtime: the intervals read back add up to the two checkpoints exactly,
// segment 1's intervals start after the downtime on the same base, and a log of another run
// is refused.
func TestIntervalLogResumes(t *testing.T) {
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	seg := func(segment int, from time.Time) *Result {
		return &Result{Schema: Schema, Start: from, Run: &RunInfo{ID: "r1", Segment: segment}, Outcomes: map[Class]*Outcome{}}
	}
	record := func(r *Result, n int, at time.Duration) {
		o := r.Outcomes[OK]
		if o == nil {
			o = &Outcome{Latency: NewHistogram()}
			r.Outcomes[OK] = o
		}
		for range n {
			o.Latency.RecordDuration(time.Millisecond)
		}
		o.Count += int64(n)
		r.Requests += int64(n)
		r.End = r.Start.Add(at)
	}
	var buf bytes.Buffer
	s0 := seg(0, start)
	l := NewIntervalLog(&buf)
	record(s0, 10, time.Second)
	l.Add(s0)
	record(s0, 20, 2*time.Second)
	l.Add(s0)
	checkpoint := *s0 // the last checkpoint on disk: 30 requests at 2 s
	checkpoint.Outcomes = map[Class]*Outcome{OK: {Count: 30, Latency: NewHistogram()}}
	checkpoint.Outcomes[OK].Latency.Merge(s0.Outcomes[OK].Latency.Histogram)
	record(s0, 40, 3*time.Second)
	l.Add(s0)                           // written to the log; the kill came before the checkpoint
	buf.WriteString("Tag=ok,3.000,0.9") // and a torn line

	if _, _, err := TrimIntervalLog(buf.Bytes(), "another", checkpoint.End); err == nil || !strings.Contains(err.Error(), "another run") {
		t.Fatalf("trim for another run: %v", err)
	}
	kept, base, err := TrimIntervalLog(buf.Bytes(), "r1", checkpoint.End)
	if err != nil {
		t.Fatal(err)
	}
	if !base.Equal(start) {
		t.Fatalf("base %v, want %v", base, start)
	}
	out := bytes.NewBuffer(kept)
	s1 := seg(1, start.Add(10*time.Second)) // 7 s of downtime
	l1 := AppendIntervalLog(out, base)
	record(s1, 5, time.Second)
	if err := l1.Add(s1); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Count(text, "#[BaseTime:") != 1 || !strings.Contains(text, "#gatecrash run r1 segment 1 ") || !strings.Contains(text, "Tag=ok,10.000,1.000,") {
		t.Fatalf("resumed log:\n%s", text)
	}
	rd := hdrhistogram.NewHistogramLogReader(strings.NewReader(text))
	var total int64
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		total += h.TotalCount()
	}
	if want := checkpoint.Requests + s1.Requests; total != want {
		t.Fatalf("the resumed log holds %d requests, the checkpoint and segment 1 %d:\n%s", total, want, text)
	}
}
