//go:build unix

package loadgen

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestResourceNotesOncePerResource: a dial error that means the load machine ran out (file
// descriptors, local ports) makes one note per resource, naming the limit and what to raise;
// other dial errors (the target refusing) make none.
func TestResourceNotesOncePerResource(t *testing.T) {
	var warned []string
	r := resources{warn: func(s string) { warned = append(warned, s) }}
	wrap := func(e syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", e)}
	}
	for range 3 {
		r.note(wrap(syscall.EMFILE))
		r.note(wrap(syscall.EADDRNOTAVAIL))
		r.note(wrap(syscall.ECONNREFUSED))
		r.note(fmt.Errorf("no errno at all"))
	}
	notes := r.list()
	if len(notes) != 2 || len(warned) != 2 {
		t.Fatalf("notes %q, warned %d times; want one per resource", notes, len(warned))
	}
	for _, want := range []string{"file descriptors ran out", "open-file limit soft", "connect-error"} {
		if !strings.Contains(notes[0], want) {
			t.Errorf("EMFILE note lacks %q: %s", want, notes[0])
		}
	}
	if !strings.Contains(notes[1], "local ports ran out") || !strings.Contains(notes[1], "ip_local_port_range") {
		t.Errorf("EADDRNOTAVAIL note: %s", notes[1])
	}
}
