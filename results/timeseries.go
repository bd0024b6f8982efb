package results

import (
	"encoding/json"
	"fmt"
	"time"
)

// MaxBuckets bounds a TimeSeries: past it, adjacent buckets are merged and the interval
// doubles, so a run of any length keeps at most this many rows (one hour at 1 s; ten hours at
// 16 s).
const MaxBuckets = 3600

// TimeSeries counts outcomes per interval since Start. Its memory is bounded by MaxBuckets.
type TimeSeries struct {
	Start    time.Time
	Interval time.Duration
	Buckets  [][NumClasses]int64
}

// NewTimeSeries returns an empty series with 1 s buckets starting at start.
func NewTimeSeries(start time.Time) *TimeSeries {
	return &TimeSeries{Start: start, Interval: time.Second}
}

// Add counts n outcomes of class c at time t. Times before Start go in the first bucket.
func (ts *TimeSeries) Add(t time.Time, c Class, n int64) {
	idx := max(int(t.Sub(ts.Start)/ts.Interval), 0)
	for idx >= MaxBuckets {
		ts.downsample()
		idx = int(t.Sub(ts.Start) / ts.Interval)
	}
	for len(ts.Buckets) <= idx {
		ts.Buckets = append(ts.Buckets, [NumClasses]int64{})
	}
	ts.Buckets[idx][c] += n
}

// downsample merges bucket pairs and doubles the interval.
func (ts *TimeSeries) downsample() {
	half := (len(ts.Buckets) + 1) / 2
	for i := 0; i < half; i++ {
		var b [NumClasses]int64
		for j := 2 * i; j < min(2*i+2, len(ts.Buckets)); j++ {
			for c := range b {
				b[c] += ts.Buckets[j][c]
			}
		}
		ts.Buckets[i] = b
	}
	ts.Buckets = ts.Buckets[:half]
	ts.Interval *= 2
}

// Merge adds o into ts, aligning buckets by wall-clock time (o may start elsewhere and have
// another interval; counts land in the ts bucket holding the start of each o bucket).
func (ts *TimeSeries) Merge(o *TimeSeries) {
	if o == nil {
		return
	}
	for ts.Interval < o.Interval {
		ts.downsample()
	}
	for i, b := range o.Buckets {
		t := o.Start.Add(time.Duration(i) * o.Interval)
		for c, n := range b {
			if n != 0 {
				ts.Add(t, Class(c), n)
			}
		}
	}
}

// Total returns the count of class c over the whole series.
func (ts *TimeSeries) Total(c Class) int64 {
	var n int64
	for _, b := range ts.Buckets {
		n += b[c]
	}
	return n
}

// timeSeriesJSON is the compact JSON form: only classes that occur, as columns.
type timeSeriesJSON struct {
	Start           time.Time `json:"start"`
	IntervalSeconds float64   `json:"interval_seconds"`
	Classes         []Class   `json:"classes"`
	Counts          [][]int64 `json:"counts"`
}

// MarshalJSON writes the series with one column per class that occurs.
func (ts *TimeSeries) MarshalJSON() ([]byte, error) {
	out := timeSeriesJSON{Start: ts.Start, IntervalSeconds: ts.Interval.Seconds(), Classes: []Class{}, Counts: [][]int64{}}
	for c := Class(0); int(c) < NumClasses; c++ {
		if ts.Total(c) > 0 {
			out.Classes = append(out.Classes, c)
		}
	}
	for _, b := range ts.Buckets {
		row := make([]int64, len(out.Classes))
		for i, c := range out.Classes {
			row[i] = b[c]
		}
		out.Counts = append(out.Counts, row)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the compact form.
func (ts *TimeSeries) UnmarshalJSON(b []byte) error {
	var in timeSeriesJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	if in.IntervalSeconds <= 0 {
		return fmt.Errorf("timeseries: interval_seconds must be > 0, got %v", in.IntervalSeconds)
	}
	ts.Start, ts.Interval = in.Start, time.Duration(in.IntervalSeconds*float64(time.Second))
	ts.Buckets = make([][NumClasses]int64, len(in.Counts))
	for i, row := range in.Counts {
		if len(row) != len(in.Classes) {
			return fmt.Errorf("timeseries: row %d has %d counts for %d classes", i, len(row), len(in.Classes))
		}
		for j, c := range in.Classes {
			ts.Buckets[i][c] = row[j]
		}
	}
	return nil
}
