package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/results"
)

// syncBuffer is a bytes.Buffer safe for mpb's writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The bars are drawn from progress data alone: label, rate, ok and error classes.
func TestProgressBarsShowRateAndClasses(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	pb := newProgressBars(&out, mpb.WithWidth(120), mpb.WithRefreshRate(20*time.Millisecond), mpb.WithAutoRefresh())
	var by [results.NumClasses]int64
	for i := int64(1); i <= 5; i++ {
		by[results.OK], by[results.Status502] = 300*i, 7*i
		pb.observe("variant-a", loadgen.Progress{Elapsed: time.Duration(i) * 100 * time.Millisecond, Duration: time.Second,
			Requests: 307 * i, Rate: 3070, ByClass: by})
		time.Sleep(30 * time.Millisecond) // let mpb draw a frame
	}
	pb.observe("variant-a", loadgen.Progress{Elapsed: time.Second, Duration: time.Second, Requests: 1535, ByClass: by, Done: true})
	pb.wait()
	s := out.String()
	for _, want := range []string{"variant-a", "3070 req/s", "ok 1,500", "502 35"} {
		if !strings.Contains(s, want) {
			t.Fatalf("progress output lacks %q:\n%q", want, s)
		}
	}
}
