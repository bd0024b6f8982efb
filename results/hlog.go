package results

import (
	"fmt"
	"io"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// IntervalLog writes a run's latency as per-interval histograms in the HdrHistogram interval
// log format (the ".hlog" that HdrHistogram's HistogramLogReader, HistogramLogProcessor and
// HdrHistogramVisualizer read): a header with "#[StartTime: ...]" and "#[BaseTime: ...]", then
// per interval and per outcome class with requests in it one line
//
//	Tag=CLASS,START,LENGTH,MAX,HISTFAAA...
//
// START relative to the base time and LENGTH in seconds, MAX in milliseconds, the histogram
// (values in microseconds, like every gatecrash histogram) in the V2 compressed base64
// encoding. It is fed successive snapshots of one run (loadgen.Live.Snapshot) and writes the
// difference between each and the one before, so the intervals of a class add up to the
// class's histogram in the run's result.
type IntervalLog struct {
	w    io.Writer
	base time.Time
	last time.Time
	prev map[Class][]int64 // bucket counts per class at the previous snapshot
}

// NewIntervalLog returns a log writing to w. The header is written with the first snapshot.
func NewIntervalLog(w io.Writer) *IntervalLog { return &IntervalLog{w: w} }

// Add writes the interval from the previous snapshot (for the first: from r.Start) to r.End.
// Snapshots must come from one run, in order; a class whose count went down (a different
// run) is an error.
func (l *IntervalLog) Add(r *Result) error {
	if l.prev == nil {
		l.prev, l.base = map[Class][]int64{}, time.UnixMilli(r.Start.UnixMilli())
		l.last = l.base
		lw := hdrhistogram.NewHistogramLogWriter(l.w)
		// The library's writer rounds the start and base times down to whole seconds, and the
		// interval timestamps are relative to them: written here with milliseconds, as
		// HdrHistogram's Java writer does.
		sec := float64(r.Start.UnixMilli()) / 1000
		for _, err := range []error{
			lw.OutputComment("gatecrash interval log: latency in microseconds, one histogram per outcome class (Tag), max in milliseconds"),
			lw.OutputLogFormatVersion(),
			printf(l.w, "#[StartTime: %.3f (seconds since epoch), %s]\n", sec, r.Start.UTC().Format(time.RFC3339Nano)),
			printf(l.w, "#[BaseTime: %.3f (seconds since epoch)]\n", sec),
			lw.OutputLegend(),
		} {
			if err != nil {
				return fmt.Errorf("writing interval log: %w", err)
			}
		}
	}
	start, end := l.last, r.End
	if end.Before(start) {
		end = start
	}
	for _, c := range Classes() {
		o := r.Outcomes[c]
		if o == nil || o.Latency == nil {
			continue
		}
		snap := o.Latency.Export()
		cur := snap.Counts
		prev := l.prev[c]
		delta := make([]int64, len(cur))
		var n int64
		for i, v := range cur {
			if i < len(prev) {
				v -= prev[i]
			}
			if v < 0 {
				return fmt.Errorf("interval log: class %s has fewer requests than in the previous snapshot: not the same run", c)
			}
			delta[i] = v
			n += v
		}
		l.prev[c] = cur
		if n == 0 {
			continue
		}
		snap.Counts = delta
		h := hdrhistogram.Import(snap)
		enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return fmt.Errorf("interval log: encoding %s: %w", c, err)
		}
		_, err = fmt.Fprintf(l.w, "Tag=%s,%.3f,%.3f,%.3f,%s\n", c, start.Sub(l.base).Seconds(), end.Sub(start).Seconds(),
			float64(h.Max())/1000, enc)
		if err != nil {
			return fmt.Errorf("writing interval log: %w", err)
		}
	}
	l.last = end
	return nil
}

func printf(w io.Writer, format string, args ...any) error {
	_, err := fmt.Fprintf(w, format, args...)
	return err
}
