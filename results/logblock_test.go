package results

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestLogBlocksThroughKubectlLogs: blocks of three pods, prefixed as kubectl logs --prefix
// does and interleaved line by line, plus one cut off, come back as the three results.
func TestLogBlocksThroughKubectlLogs(t *testing.T) {
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var pods [][]string
	var want []*Result
	for i := range 3 {
		r := build(start, []event{{0, OK, time.Millisecond}, {time.Second, Status502, time.Duration(i+1) * time.Millisecond}})
		r.Run = &RunInfo{ID: "job-x", Shard: i, Shards: 3}
		want = append(want, r)
		var b bytes.Buffer
		b.WriteString("summary line of the load\n")
		if err := WriteLogBlock(&b, r); err != nil {
			t.Fatal(err)
		}
		prefix := "[pod/load-" + string(rune('a'+i)) + "/load] "
		var lines []string
		for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
			lines = append(lines, prefix+l)
		}
		pods = append(pods, lines)
	}
	var mixed strings.Builder
	for row := 0; ; row++ { // interleave line by line
		any := false
		for _, p := range pods {
			if row < len(p) {
				mixed.WriteString(p[row] + "\n")
				any = true
			}
		}
		if !any {
			break
		}
	}
	mixed.WriteString("[pod/load-d/load] " + logBegin + "\n[pod/load-d/load] H4sIAAAA\n") // killed mid-block
	got, err := ReadLogBlocks(strings.NewReader(mixed.String()), "logs")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d results, want 3", len(got))
	}
	m, err := Merge(got...)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 6 || m.Count(Status502) != 3 || len(m.Shards) != 3 {
		t.Fatalf("merged from logs: %d requests, %d 502, shards %v", m.Requests, m.Count(Status502), m.Shards)
	}
	for _, r := range got {
		if !r.Outcomes[Status502].Latency.Equals(want[r.Run.Shard].Outcomes[Status502].Latency.Histogram) {
			t.Errorf("shard %d's histogram changed on the way through the log", r.Run.Shard)
		}
	}
	bad := logBegin + "\nnot base64 at all!\n" + logEnd + "\n"
	if _, err := ReadLogBlocks(strings.NewReader(bad), "pod.log"); err == nil || !strings.Contains(err.Error(), "pod.log:1") {
		t.Fatalf("a corrupt block: %v", err)
	}
}
