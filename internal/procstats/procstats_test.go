package procstats

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestReadFollowsTheProcess: goroutines and open files started by the test show up in the
// figures, and Write names them the Prometheus Go client's way.
func TestReadFollowsTheProcess(t *testing.T) {
	before := Read()
	stop := make(chan struct{})
	for range 50 {
		go func() { <-stop }()
	}
	var files []*os.File
	for range 20 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	time.Sleep(10 * time.Millisecond)
	after := Read()
	close(stop)
	for _, f := range files {
		f.Close()
	}
	if after.Goroutines < before.Goroutines+50 {
		t.Errorf("goroutines %d → %d after starting 50", before.Goroutines, after.Goroutines)
	}
	if runtime.GOOS == "linux" {
		if after.OpenFDs < before.OpenFDs+20 || after.RSSBytes <= 0 {
			t.Errorf("open fds %d → %d after opening 20; rss %d", before.OpenFDs, after.OpenFDs, after.RSSBytes)
		}
	}
	if after.HeapBytes <= 0 {
		t.Errorf("heap %d", after.HeapBytes)
	}
	var b strings.Builder
	if err := Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go_goroutines ", "go_memstats_heap_alloc_bytes "} {
		if !strings.Contains(b.String(), "\n"+name) {
			t.Errorf("no %s in:\n%s", name, b.String())
		}
	}
}
