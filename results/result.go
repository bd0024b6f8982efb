package results

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/internal/files"
)

// Schema is the schema name and version of a result document. A reader accepts any
// gatecrash.result/v1.x and rejects other major versions.
const Schema = "gatecrash.result/v1"

// Result is everything measured in one run of one variant.
type Result struct {
	Schema   string `json:"schema"`
	Scenario string `json:"scenario,omitempty"`
	Variant  string `json:"variant,omitempty"`
	// Target says what was loaded and how.
	Target Target `json:"target"`
	// Run identifies the run this result is a segment of, when it was written by a load that
	// can be resumed (gatecrash load --resume).
	Run *RunInfo `json:"run,omitempty"`
	// Segments lists the segments of Run a merged result holds; Shards the shards of a
	// sharded run it holds, and MissingShards those a merge with --allow-partial did not have.
	Segments      []int `json:"segments,omitempty"`
	Shards        []int `json:"shards,omitempty"`
	MissingShards []int `json:"missing_shards,omitempty"`
	// Start and End bound the run; End is when the last request finished.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Spans are, in a merged result, the stretches each piece ran (a segment of a shard):
	// their union is the active time, the rest of Start..End downtime (a soak that crashed
	// and was resumed later). Empty for a result of one piece, which ran from Start to End.
	Spans []Span `json:"spans,omitempty"`
	// Interrupted is true when the run was stopped by a signal before its planned end.
	Interrupted bool `json:"interrupted,omitempty"`
	// Partial is set on a checkpoint: a result written while the run was still going. It
	// covers Start to End; the run went on after End, or died (a SIGKILL, an OOM kill, a
	// reboot) before it could write its last result.
	Partial bool `json:"partial,omitempty"`
	// Failure says why the run ended early when a part of it failed (the origin stopped
	// serving, the proxy under test exited); the counts cover the run up to then.
	Failure string `json:"failure,omitempty"`
	// Notes are what the load generator had to say about the run itself: a resource of the
	// load machine that ran out (file descriptors, local ports), with what to raise.
	Notes []string `json:"notes,omitempty"`
	// Requests is the number of requests with an outcome: the sum of all outcome counts.
	Requests int64 `json:"requests"`
	// Aborted counts requests that were in flight when an interrupted run gave up waiting;
	// they have no outcome.
	Aborted int64 `json:"aborted,omitempty"`
	// Unsent counts open-loop requests that were due before the end but never started,
	// because every connection was busy: a stalled target must not look like a lower rate.
	Unsent int64 `json:"unsent,omitempty"`
	// Late counts open-loop requests that started more than LateThreshold after their
	// intended time (their latency still counts from the intended time).
	Late int64 `json:"late"`
	// StartLag is how late open-loop requests started after their intended time, all of
	// them (Late counts those past LateThreshold); nil for a closed-loop load.
	StartLag *Histogram `json:"start_lag,omitempty"`
	// Connections counts connections opened and requests sent on reused connections.
	Connections Connections `json:"connections"`
	// Outcomes maps each class that occurred to its count and latency.
	Outcomes map[Class]*Outcome `json:"outcomes"`
	// TimeSeries counts outcomes per interval.
	TimeSeries *TimeSeries `json:"timeseries,omitempty"`
	// PerTarget counts outcomes per request of a mixed load (a targets file), in the file's
	// order; nil for a load of one request.
	PerTarget []TargetOutcomes `json:"per_target,omitempty"`
	// Gaps counts outcomes by the idle gap before each request (gap-sweep loads).
	Gaps *Gaps `json:"gaps,omitempty"`
	// Exemplars are sample requests per error class, to match with proxy logs and captures.
	Exemplars map[Class][]Exemplar `json:"exemplars,omitempty"`
	// Origin is the fault server's ground truth for the run, when the runner had one.
	Origin *OriginTruth `json:"origin,omitempty"`
	// ProxyLog counts known error-log lines of the proxy under test, by pattern name.
	ProxyLog map[string]int64 `json:"proxy_log,omitempty"`
}

// RunInfo ties the segments of one run together: a soak restarted after a crash goes on as a
// new segment of the same run, in its own result file, and merge adds the segments up.
type RunInfo struct {
	// ID is the run's identity, the same in every segment.
	ID string `json:"id"`
	// Segment is this part's number: 0 for the first, one more per resume.
	Segment int `json:"segment"`
	// Shard and Shards say which of the run's side-by-side load generators this is
	// (gatecrash load --shard SHARD/SHARDS); Shards is 0 for an unsharded run.
	Shard  int `json:"shard,omitempty"`
	Shards int `json:"shards,omitempty"`
	// PlannedSeconds and PlannedRequests are the whole run's plan (0: none).
	PlannedSeconds  Seconds `json:"planned_seconds,omitempty"`
	PlannedRequests int64   `json:"planned_requests,omitempty"`
	// BeforeSeconds and BeforeRequests are what the earlier segments covered; this segment
	// was planned to do the rest.
	BeforeSeconds  Seconds `json:"before_seconds,omitempty"`
	BeforeRequests int64   `json:"before_requests,omitempty"`
}

// NewRunID returns a fresh random run id.
func NewRunID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making a run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// NextSegment returns the run info of the segment after last, a result of a run with run
// info: one more segment, and what last covered added to what came before.
func NextSegment(last *Result) RunInfo {
	ri := *last.Run
	ri.Segment++
	ri.BeforeSeconds += Seconds(last.Duration())
	ri.BeforeRequests += last.Requests + last.Aborted
	return ri
}

// segSuffix is a segment file's ending: ".json", or ".segN.json" for segment N > 0.
var segSuffix = regexp.MustCompile(`(\.seg\d+)?\.json$`)

// SegmentPath names segment n's file after the file of a segment of the run: the first
// segment's is NAME.json (or any name), segment n's NAME.segN.json — soak.json →
// soak.seg2.json, soak.seg1.json → soak.seg2.json, soak.seg3.json (n 0) → soak.json,
// soak.out → soak.out.seg1.json.
func SegmentPath(of string, n int) string {
	base := segSuffix.ReplaceAllString(of, "")
	switch {
	case n > 0:
		return fmt.Sprintf("%s.seg%d.json", base, n)
	case base == of:
		return of // a first segment named without .json
	}
	return base + ".json"
}

// SegmentFiles lists the files of the run whose first segment's file is first, in order, as
// far as they exist: none when first does not.
func SegmentFiles(first string) []string {
	var out []string
	for n := 0; ; n++ {
		p := SegmentPath(first, n)
		if _, err := os.Stat(p); err != nil {
			return out
		}
		out = append(out, p)
	}
}

// Left returns what is left of the run's plan for this segment — a duration and a request
// count, 0 where the plan has no bound of that kind — and done when nothing is left.
func (ri RunInfo) Left() (d time.Duration, requests int64, done bool) {
	if ri.PlannedSeconds > 0 {
		d = time.Duration(ri.PlannedSeconds - ri.BeforeSeconds)
		done = d <= 0
	}
	if ri.PlannedRequests > 0 {
		requests = ri.PlannedRequests - ri.BeforeRequests
		done = done || requests <= 0
	}
	return d, requests, done
}

// LateThreshold is how late an open-loop send may start before it counts as late.
const LateThreshold = time.Millisecond

// Target describes the load that produced a result.
type Target struct {
	URL         string  `json:"url"`
	Method      string  `json:"method"`
	BodySize    int     `json:"body_size,omitempty"`
	Pattern     string  `json:"pattern"`
	Connections int     `json:"connections"`
	Rate        float64 `json:"rate,omitempty"`
	// Client is the client model: how the load generator decided whether to reuse an idle
	// connection ("checked", "naive", "validate-after=2s").
	Client string `json:"client,omitempty"`
	// Timeout is the per-request timeout.
	Timeout Seconds `json:"timeout_seconds"`
	// Targets is how many requests a mixed load sent in turn (a targets file): URL is then the
	// first one's, Method "mixed" unless they all share one; 0 for a load of one request.
	Targets int `json:"targets,omitempty"`
	// Protocol is "h2c" or "h2" for an HTTP/2 load ("" : HTTP/1.1), with Streams requests in
	// flight per connection.
	Protocol string `json:"protocol,omitempty"`
	Streams  int    `json:"streams,omitempty"`
}

// ConnectionsText says how the load was carried: "16 connections", or with HTTP/2
// "4 h2c connections x 10 streams".
func (t Target) ConnectionsText() string {
	if t.Protocol == "" {
		return fmt.Sprintf("%d connections", t.Connections)
	}
	return fmt.Sprintf("%d %s connections x %d streams", t.Connections, t.Protocol, max(1, t.Streams))
}

// Seconds is a duration written in JSON as (fractional) seconds.
type Seconds time.Duration

// MarshalJSON writes s as seconds.
func (s Seconds) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(s).Seconds()) }

// UnmarshalJSON reads seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = Seconds(f * float64(time.Second))
	return nil
}

// Connections counts connection use.
type Connections struct {
	Opened int64 `json:"opened"`
	// ReusedRequests counts requests sent on a connection that had served one before.
	ReusedRequests int64 `json:"reused_requests"`
	// StaleDiscarded counts idle connections the client model's check found closed by the
	// peer (or carrying bytes nobody asked for) and replaced instead of reusing: the client's
	// view of an idle-timeout mismatch with the next hop.
	StaleDiscarded int64 `json:"stale_discarded,omitempty"`
}

// Outcome is the count and latency of one class.
type Outcome struct {
	Count   int64      `json:"count"`
	Latency *Histogram `json:"latency"`
	// Stale and Race split the errors of this class on reused connections: Stale when the
	// peer's close (FIN, RST, or unsolicited bytes) was already there before the request was
	// written — the client's pool is at fault — and Race when the connection ended under the
	// request after it was written (no-response, reset, truncated only): the two crossed.
	Stale int64 `json:"stale,omitempty"`
	Race  int64 `json:"race,omitempty"`
	// First and Last are when the first and last request of this class finished.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// Exemplar is one request, with what is needed to find it in a proxy log or a capture.
type Exemplar struct {
	Time   time.Time `json:"time"`
	Local  string    `json:"local,omitempty"`
	ConnID uint64    `json:"conn_id"`
	Reused bool      `json:"reused"`
	// Reuse is "stale" or "race" for a request on a reused connection (see Outcome.Stale).
	Reuse        string `json:"reuse,omitempty"`
	IdleMicros   int64  `json:"idle_us"`
	BytesWritten int64  `json:"bytes_written"`
	BytesRead    int64  `json:"bytes_read"`
	Status       int    `json:"status,omitempty"`
	LatencyUs    int64  `json:"latency_us"`
	Error        string `json:"error,omitempty"`
	// Origin is the origin's fault event paired with this error (PairExemplars), when the
	// result has the origin's events.
	Origin *OriginMatch `json:"origin,omitempty"`
}

// Duration returns End - Start.
func (r *Result) Duration() time.Duration { return r.End.Sub(r.Start) }

// Count returns the number of requests in class c.
func (r *Result) Count(c Class) int64 {
	if o := r.Outcomes[c]; o != nil {
		return o.Count
	}
	return 0
}

// Errors returns the number of requests in any class but ok.
func (r *Result) Errors() int64 { return r.Requests - r.Count(OK) }

// Validate checks the invariants a reader relies on.
func (r *Result) Validate() error {
	var errs []error
	var sum int64
	for c, o := range r.Outcomes {
		if o == nil || o.Latency == nil {
			errs = append(errs, fmt.Errorf("outcome %s has no latency histogram", c))
			continue
		}
		if o.Latency.TotalCount() != o.Count {
			errs = append(errs, fmt.Errorf("outcome %s: count %d but its histogram holds %d", c, o.Count, o.Latency.TotalCount()))
		}
		sum += o.Count
	}
	if sum != r.Requests {
		errs = append(errs, fmt.Errorf("requests is %d but the outcomes add up to %d", r.Requests, sum))
	}
	if r.PerTarget != nil {
		var per int64
		byClass := map[Class]int64{}
		for _, t := range r.PerTarget {
			var n int64
			for c, k := range t.Outcomes {
				n += k
				byClass[c] += k
			}
			if n != t.Requests {
				errs = append(errs, fmt.Errorf("target %s %s: requests is %d but its outcomes add up to %d", t.Method, t.URL, t.Requests, n))
			}
			per += t.Requests
		}
		if per != r.Requests {
			errs = append(errs, fmt.Errorf("requests is %d but the targets' add up to %d", r.Requests, per))
		}
		for c, o := range r.Outcomes {
			if o != nil && byClass[c] != o.Count {
				errs = append(errs, fmt.Errorf("outcome %s: count %d but the targets' add up to %d", c, o.Count, byClass[c]))
			}
		}
	}
	return errors.Join(errs...)
}

// WriteFile writes r as indented JSON to path atomically: a temp file in the same directory,
// fsynced, then renamed over path; it never replaces a non-regular file (files.WriteAtomic).
func (r *Result) WriteFile(path string) error {
	if r.Schema == "" {
		r.Schema = Schema
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	return files.WriteAtomic(path, append(b, '\n'), 0o644)
}

// FileKind is a result file as an output (files.Check): a JSON document with a gatecrash
// result schema near its start.
var FileKind = files.Kind{Name: "result (JSON with \"schema\": \"" + Schema + "\")", Looks: files.LooksLike("{", `"gatecrash.result/`)}

// IntervalLogKind is an interval log as an output (files.Check).
var IntervalLogKind = files.Kind{Name: "interval log (.hlog)", Looks: files.LooksLike(intervalLogComment, "")}

// MaxFileSize bounds a result file ReadFile accepts. A result does not grow with the number of
// requests (histograms, a bounded time series and bounded exemplars): a real one is a few
// megabytes even after a day-long soak.
const MaxFileSize = 256 << 20

// ReadFile reads and checks a result document. It accepts only a regular file of at most
// MaxFileSize bytes (not a device or a pipe that never ends) and decodes it as a stream.
// Errors name the file and what is wrong.
func ReadFile(path string) (*Result, error) {
	// Stat before opening: opening a named pipe would already block.
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading result: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: it is %s, not a regular file", path, ErrNotAResult, files.Describe(st.Mode()))
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %w: %d bytes is over the %d-byte limit for a result file", path, ErrNotAResult, st.Size(), MaxFileSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading result: %w", err)
	}
	defer f.Close()
	r, err := decode(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ErrNotAResult marks input that is not a gatecrash result of a version this build reads.
var ErrNotAResult = errors.New("not a gatecrash result")

// Parse decodes and checks a result document.
func Parse(b []byte) (*Result, error) { return decode(bytes.NewReader(b)) }

// decode reads one result document from rd as a stream: the schema is checked as soon as it
// has been read (it comes first in every file gatecrash writes), before the rest is decoded.
func decode(rd io.Reader) (*Result, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v (truncated or corrupt JSON?)", ErrNotAResult, err)
	}
	var schema string
	if s, ok := raw["schema"]; ok {
		json.Unmarshal(s, &schema)
	}
	if schema != Schema && !strings.HasPrefix(schema, Schema+".") {
		if strings.HasPrefix(schema, "gatecrash.result/") {
			return nil, fmt.Errorf("%w: schema %q is not supported by this gatecrash, which reads %s", ErrNotAResult, schema, Schema)
		}
		return nil, fmt.Errorf("%w: schema is %q, want %q", ErrNotAResult, schema, Schema)
	}
	b, err := json.Marshal(raw) // the fields, once the schema says what they are
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAResult, err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAResult, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("inconsistent result: %w", err)
	}
	return &r, nil
}
