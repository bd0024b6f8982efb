package loadgen

import (
	"errors"
	"sync"
	"syscall"
)

// resources says once, per resource, when the machine ran out of something a load needs to
// open connections: file descriptors, or local ports. The requests that could not connect are
// still counted (as connect-error); the note says what ran out, the limit now, and what to
// raise, so that a user does not read the machine's limit as the target's failure.
type resources struct {
	mu    sync.Mutex
	said  map[syscall.Errno]bool
	notes []string
	warn  func(string) // called with each note as it is made (may be nil)
}

// exhaustedErrnos are the dial errors that mean the load machine, not the target, ran out.
var exhaustedErrnos = []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.EADDRNOTAVAIL}

// note looks at a dial error and makes a note the first time a resource runs out.
func (r *resources) note(err error) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return
	}
	for _, e := range exhaustedErrnos {
		if errno != e {
			continue
		}
		r.mu.Lock()
		if r.said[e] {
			r.mu.Unlock()
			return
		}
		if r.said == nil {
			r.said = map[syscall.Errno]bool{}
		}
		r.said[e] = true
		msg := exhaustedMessage(e)
		r.notes = append(r.notes, msg)
		warn := r.warn
		r.mu.Unlock()
		if warn != nil {
			warn(msg)
		}
		return
	}
}

func (r *resources) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.notes...)
}
