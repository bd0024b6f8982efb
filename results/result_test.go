package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleResult(t *testing.T) *Result {
	t.Helper()
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	r := &Result{Schema: Schema, Scenario: "keepalive-race", Variant: "default",
		Target: Target{URL: "http://127.0.0.1:8080/", Method: "POST", BodySize: 100, Pattern: "gap-sweep", Connections: 4,
			Timeout: Seconds(10 * time.Second)},
		Start: start, End: start.Add(30 * time.Second), Outcomes: map[Class]*Outcome{},
		TimeSeries: NewTimeSeries(start), Exemplars: map[Class][]Exemplar{},
		Connections: Connections{Opened: 9, ReusedRequests: 990}}
	add := func(c Class, n int, lat time.Duration) {
		o := &Outcome{Latency: NewHistogram(), First: start.Add(time.Second), Last: start.Add(29 * time.Second)}
		for i := 0; i < n; i++ {
			o.Latency.RecordDuration(lat + time.Duration(i)*time.Microsecond)
			r.TimeSeries.Add(start.Add(time.Duration(i%30)*time.Second), c, 1)
		}
		o.Count = int64(n)
		r.Outcomes[c] = o
		r.Requests += int64(n)
	}
	add(OK, 990, 400*time.Microsecond)
	add(Status502, 10, 2*time.Millisecond)
	r.Exemplars[Status502] = []Exemplar{{Time: start.Add(time.Second), Local: "127.0.0.1:40000", ConnID: 3, Reused: true,
		IdleMicros: 99000, BytesWritten: 180, BytesRead: 150, Status: 502, LatencyUs: 2000}}
	return r
}

func TestResultRoundTrip(t *testing.T) {
	t.Parallel()
	r := sampleResult(t)
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(r)
	b, _ := json.Marshal(got)
	if !bytes.Equal(a, b) {
		t.Fatalf("write -> read changed the result:\n%s\n%s", a, b)
	}
	if got.Outcomes[Status502].Latency.ValueAtQuantile(50) != r.Outcomes[Status502].Latency.ValueAtQuantile(50) ||
		got.TimeSeries.Total(OK) != 990 {
		t.Fatal("histogram or time series lost in the round trip")
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"latency": "HISTF`) || !strings.Contains(string(raw), `"schema": "gatecrash.result/v1"`) {
		t.Fatalf("histograms must be standard compressed base64 strings:\n%.400s", raw)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".r.json.tmp-*")); len(left) != 0 {
		t.Fatalf("temp files left behind: %v", left)
	}
}

func TestReadFileRejectsBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, _ := json.Marshal(sampleResult(t))
	inconsistent := bytes.Replace(good, []byte(`"requests":1000`), []byte(`"requests":1001`), 1)
	for _, tc := range []struct {
		name, content, want string
	}{
		{"truncated", string(good[:len(good)/2]), "truncated or corrupt JSON"},
		{"empty", "", "truncated or corrupt JSON"},
		{"other tool's JSON", `{"hello": 1}`, `schema is "", want "gatecrash.result/v1"`},
		{"future major version", `{"schema": "gatecrash.result/v2"}`, `schema "gatecrash.result/v2" is not supported`},
		{"broken histogram", strings.Replace(string(good), `"latency":"HISTF`, `"latency":"XXXX`, 1), "decoding latency histogram"},
		{"counts do not add up", string(inconsistent), "requests is 1001 but the outcomes add up to 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			os.WriteFile(path, []byte(tc.content), 0o644)
			_, err := ReadFile(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v; want it to name %s and say %q", err, path, tc.want)
			}
		})
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.json")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	// A newer minor version is read.
	minor := bytes.Replace(good, []byte(`"gatecrash.result/v1"`), []byte(`"gatecrash.result/v1.3"`), 1)
	if _, err := Parse(minor); err != nil {
		t.Fatalf("v1.3 rejected: %v", err)
	}
}

func TestTimeSeriesDownsamplesAndMerges(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	ts := NewTimeSeries(start)
	// 10 hours, one request a second: must stay within MaxBuckets.
	for s := 0; s < 36000; s++ {
		ts.Add(start.Add(time.Duration(s)*time.Second), OK, 1)
	}
	if len(ts.Buckets) > MaxBuckets || ts.Interval != 16*time.Second || ts.Total(OK) != 36000 {
		t.Fatalf("%d buckets of %v, total %d; want <= %d buckets of 16s and all 36000 counted",
			len(ts.Buckets), ts.Interval, ts.Total(OK), MaxBuckets)
	}
	// Merging a shard that started 3s later aligns by wall clock.
	a, b := NewTimeSeries(start), NewTimeSeries(start.Add(3*time.Second))
	a.Add(start.Add(5*time.Second), Reset, 2)
	b.Add(start.Add(5*time.Second), Reset, 1) // b's bucket 2 is a's bucket 5
	a.Merge(b)
	if a.Buckets[5][Reset] != 3 || a.Total(Reset) != 3 {
		t.Fatalf("merged buckets %v", a.Buckets)
	}
	// JSON keeps only classes that occur, and reads back the same.
	j, _ := json.Marshal(a)
	if !strings.Contains(string(j), `"classes":["reset"]`) {
		t.Fatalf("json %s", j)
	}
	var back TimeSeries
	if err := json.Unmarshal(j, &back); err != nil || back.Total(Reset) != 3 || back.Buckets[5][Reset] != 3 {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestExemplarSetKeepsFirstAndLast(t *testing.T) {
	t.Parallel()
	var s ExemplarSet
	base := time.Unix(0, 0)
	for i := 0; i < 1000; i++ {
		s.Add(Exemplar{Time: base.Add(time.Duration(i) * time.Second), ConnID: uint64(i)})
	}
	got := s.List()
	if len(got) != MaxExemplars || got[0].ConnID != 0 || got[9].ConnID != 9 || got[10].ConnID != 990 || got[19].ConnID != 999 {
		t.Fatalf("kept %d: first %d..%d, last %d..%d", len(got), got[0].ConnID, got[9].ConnID, got[10].ConnID, got[19].ConnID)
	}
	merged := MergeExemplars(got, []Exemplar{{Time: base.Add(-time.Second), ConnID: 5000}})
	if len(merged) != MaxExemplars || merged[0].ConnID != 5000 {
		t.Fatalf("merge: %d, first %d", len(merged), merged[0].ConnID)
	}
}

func TestClassNamesAndStatus(t *testing.T) {
	t.Parallel()
	for _, c := range Classes() {
		back, err := ParseClass(c.String())
		if err != nil || back != c || c.Description() == "" {
			t.Fatalf("class %d: %q %v", c, c, err)
		}
	}
	for status, want := range map[int]Class{100: OK, 200: OK, 304: OK, 404: Status4xx, 499: Status4xx, 500: Status5xx,
		502: Status502, 503: Status503, 504: Status504, 599: Status5xx, 600: Malformed, 42: Malformed} {
		if got := ClassOfStatus(status); got != want {
			t.Errorf("ClassOfStatus(%d) = %s, want %s", status, got, want)
		}
	}
	if _, err := ParseClass("503x"); err == nil {
		t.Fatal("bad class accepted")
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteSummary(&b, sampleResult(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"target       POST http://127.0.0.1:8080/ (gap-sweep, 4 connections)",
		"requests 1,000   achieved 33.3/s",
		"9 opened, 990 requests on reused connections",
		"ok    990  99.00%",
		"502     10   1.00%",
		"+1.00s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if got := FormatShare(3, 1_000_000); got != "3.0e-06" {
		t.Fatalf("FormatShare small = %q", got)
	}
	if got := FormatCount(-1234567); got != "-1,234,567" {
		t.Fatalf("FormatCount = %q", got)
	}
}

// Segment files: one rule for gatecrash load's and gatecrash run's.
func TestSegmentPaths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		of   string
		n    int
		want string
	}{
		{"soak.json", 0, "soak.json"}, {"soak.json", 2, "soak.seg2.json"}, {"soak.seg1.json", 2, "soak.seg2.json"},
		{"soak.seg3.json", 0, "soak.json"}, {"soak.out", 1, "soak.out.seg1.json"}, {"soak.out", 0, "soak.out"},
		{"run/v.seg12.json", 13, "run/v.seg13.json"},
	} {
		if got := SegmentPath(tc.of, tc.n); got != tc.want {
			t.Errorf("SegmentPath(%q, %d) = %q, want %q", tc.of, tc.n, got, tc.want)
		}
	}
	dir := t.TempDir()
	first := filepath.Join(dir, "soak.json")
	if got := SegmentFiles(first); got != nil {
		t.Fatalf("no files: %v", got)
	}
	for _, p := range []string{first, SegmentPath(first, 1), SegmentPath(first, 2), SegmentPath(first, 4)} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := SegmentFiles(first); len(got) != 3 || got[2] != filepath.Join(dir, "soak.seg2.json") {
		t.Fatalf("segments 0, 1, 2 and 4 on disk: %v; want up to the first missing (3)", got)
	}
}
