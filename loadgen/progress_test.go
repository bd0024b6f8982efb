package loadgen

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"
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

func TestProgressBarShowsRateAndClasses(t *testing.T) {
	t.Parallel()
	_, addr, _ := origin(t, "status:code=502,every=4")
	var out syncBuffer
	p := mpb.NewWithContext(context.Background(), mpb.WithOutput(&out), mpb.WithWidth(100),
		mpb.WithRefreshRate(50*time.Millisecond), mpb.WithAutoRefresh()) // as on a terminal
	res, err := Run(context.Background(), Config{URL: "http://" + addr + "/", Connections: 2, Duration: yd(700 * time.Millisecond)},
		WithProgress(p, "variant-a"))
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	s := out.String()
	for _, want := range []string{"variant-a", "req/s", "ok ", "502 "} {
		if !strings.Contains(s, want) {
			t.Fatalf("progress output lacks %q:\n%q", want, s)
		}
	}
	if res.Requests == 0 {
		t.Fatal("no requests")
	}
}
