package results

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
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
	// resumed is set on a log that goes on with an earlier segment's file: its header is
	// there already and base is the one it names.
	resumed bool
}

// NewIntervalLog returns a log writing to w. The header is written with the first snapshot.
func NewIntervalLog(w io.Writer) *IntervalLog { return &IntervalLog{w: w} }

// AppendIntervalLog returns a log that goes on with an interval log an earlier segment of the
// run wrote, whose header named base (TrimIntervalLog returns it): w appends to that file,
// and the new intervals are written against the same base time, so that every segment's
// intervals lie on one time line, the downtime between them a gap.
func AppendIntervalLog(w io.Writer, base time.Time) *IntervalLog {
	return &IntervalLog{w: w, base: base, resumed: true}
}

// intervalLogComment is how every interval log gatecrash writes begins.
const intervalLogComment = "#gatecrash interval log"

// runComment starts the comment line that says which run and segment the intervals after it
// belong to: "#gatecrash run ID segment N ...".
const runComment = "#gatecrash run "

// MaxIntervalLogSize bounds an interval log TrimIntervalLog reads back: a day at the default
// 10 s interval with every class present is about 20 MB.
const MaxIntervalLogSize = 1 << 30

// TrimIntervalLog reads back the interval log an earlier segment of run runID wrote (old,
// the whole file) before the run goes on in a new segment. It keeps the header and the
// intervals that ended by upTo, the end of the earlier segment's last checkpoint: a process
// killed between writing an interval and writing its checkpoint left an interval that the
// checkpoint does not hold, and a torn last line; both go, so that the log's intervals add up
// to the merged segments exactly. It returns what to write back and the log's base time, or
// an error when old is not an interval log of that run.
func TrimIntervalLog(old []byte, runID string, upTo time.Time) (kept []byte, base time.Time, err error) {
	var haveBase, haveRun bool
	// Interval times are written to the millisecond: an interval that ended at upTo may read
	// up to a millisecond later (start and length rounded apart).
	limit := upTo.Add(2 * time.Millisecond)
	rest := old
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break // a torn last line: the process died while writing it
		}
		line := rest[:i+1]
		rest = rest[i+1:]
		text := string(bytes.TrimSpace(line))
		switch {
		case strings.HasPrefix(text, "#[BaseTime: "):
			var sec float64
			if _, err := fmt.Sscanf(text, "#[BaseTime: %f", &sec); err != nil {
				return nil, time.Time{}, fmt.Errorf("interval log: cannot read its base time from %q", text)
			}
			base, haveBase = time.UnixMilli(int64(math.Round(sec*1000))), true
		case strings.HasPrefix(text, runComment):
			f := strings.Fields(strings.TrimPrefix(text, runComment))
			if len(f) == 0 || f[0] != runID {
				return nil, time.Time{}, fmt.Errorf("interval log: it holds another run's intervals (%q), not run %s's", text, runID)
			}
			haveRun = true
		case strings.HasPrefix(text, "Tag="):
			if !haveBase {
				return nil, time.Time{}, errors.New("interval log: an interval comes before the #[BaseTime: ...] header")
			}
			f := strings.SplitN(text, ",", 4)
			start, err1 := strconv.ParseFloat(safeIndex(f, 1), 64)
			length, err2 := strconv.ParseFloat(safeIndex(f, 2), 64)
			if len(f) < 4 || err1 != nil || err2 != nil {
				return nil, time.Time{}, fmt.Errorf("interval log: %q is not an interval line", text)
			}
			end := base.Add(time.Duration(math.Round((start + length) * 1e9)))
			if end.After(limit) {
				continue // written after the last checkpoint: the kill lost it from the result
			}
		}
		kept = append(kept, line...)
	}
	if !haveBase || !haveRun {
		return nil, time.Time{}, fmt.Errorf("interval log: no gatecrash header of run %s in it (written by another tool or an older gatecrash)", runID)
	}
	return kept, base, nil
}

func safeIndex(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// Add writes the interval from the previous snapshot (for the first: from r.Start) to r.End.
// Snapshots must come from one run, in order; a class whose count went down (a different
// run) is an error.
func (l *IntervalLog) Add(r *Result) error {
	if l.prev == nil && l.resumed {
		l.prev, l.last = map[Class][]int64{}, r.Start
		if err := l.writeRun(r); err != nil {
			return err
		}
	}
	if l.prev == nil {
		l.prev, l.base = map[Class][]int64{}, time.UnixMilli(r.Start.UnixMilli())
		l.last = l.base
		lw := hdrhistogram.NewHistogramLogWriter(l.w)
		// The library's writer rounds the start and base times down to whole seconds, and the
		// interval timestamps are relative to them: written here with milliseconds, as
		// HdrHistogram's Java writer does.
		sec := float64(r.Start.UnixMilli()) / 1000
		for _, err := range []error{
			lw.OutputComment(intervalLogComment[1:] + ": latency in microseconds, one histogram per outcome class (Tag), max in milliseconds"),
			lw.OutputLogFormatVersion(),
			printf(l.w, "#[StartTime: %.3f (seconds since epoch), %s]\n", sec, r.Start.UTC().Format(time.RFC3339Nano)),
			printf(l.w, "#[BaseTime: %.3f (seconds since epoch)]\n", sec),
			lw.OutputLegend(),
			l.writeRun(r),
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

// writeRun writes the comment that says which run and segment the intervals after it are.
func (l *IntervalLog) writeRun(r *Result) error {
	if r.Run == nil {
		return nil
	}
	err := printf(l.w, "%s%s segment %d shard %d/%d starts %s\n", runComment, r.Run.ID, r.Run.Segment, r.Run.Shard, max(r.Run.Shards, 1),
		r.Start.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("writing interval log: %w", err)
	}
	return nil
}

func printf(w io.Writer, format string, args ...any) error {
	_, err := fmt.Fprintf(w, format, args...)
	return err
}
