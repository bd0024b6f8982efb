// Package procstats writes the process's own figures — goroutines, heap, resident memory,
// open file descriptors — in the Prometheus text format, under the names Prometheus's Go
// client uses, so that a soak can be watched for growth from outside. It reads them without
// stopping the world (runtime/metrics, not ReadMemStats).
package procstats

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
)

// Figures are the process's figures now; a figure this platform cannot read is -1.
type Figures struct {
	Goroutines int
	HeapBytes  int64 // bytes in live and not yet swept heap objects
	RSSBytes   int64
	OpenFDs    int
}

// Read returns the figures now.
func Read() Figures {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	f := Figures{Goroutines: runtime.NumGoroutine(), HeapBytes: -1, RSSBytes: rss(), OpenFDs: openFDs()}
	if s[0].Value.Kind() == metrics.KindUint64 {
		f.HeapBytes = int64(s[0].Value.Uint64())
	}
	return f
}

// Write writes the figures in the Prometheus text format; figures this platform cannot read
// are left out.
func Write(w io.Writer) error {
	f := Read()
	var err error
	gauge := func(name, help string, v int64) {
		if v >= 0 && err == nil {
			_, err = fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
		}
	}
	gauge("go_goroutines", "Goroutines that currently exist.", int64(f.Goroutines))
	gauge("go_memstats_heap_alloc_bytes", "Heap bytes in objects, live and not yet swept.", f.HeapBytes)
	gauge("process_resident_memory_bytes", "Resident memory of the process.", f.RSSBytes)
	gauge("process_open_fds", "Open file descriptors of the process.", int64(f.OpenFDs))
	return err
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return -1
	}
	return resident * int64(os.Getpagesize())
}

func openFDs() int {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return len(names) - 1 // the directory being read is one of them
}
