package faultserver

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/net/http2"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// GoAwayRace is the HTTP/2 keep-alive race made deterministic: as the Stream-th stream of a
// connection opens, the server sends GOAWAY naming the stream before it as the last it
// processed — what the client sees when a server's GOAWAY and its new stream cross — and
// leaves the stream unprocessed (RFC 9113 6.8: it may be sent again, whatever its method);
// then it closes, after CloseAfter spent finishing the streams at or below the last id and
// refusing new ones. No timing luck needed: every chosen connection meets it.
type GoAwayRace struct {
	Selector    `yaml:",inline"`
	h2ConnHooks `yaml:"-"`
	// Stream is which stream of the connection meets the GOAWAY (2: the first reuse).
	Stream int `yaml:"stream"`
	// CloseAfter is the time between the GOAWAY and the close.
	CloseAfter yamlconf.Duration `yaml:"close-after,omitempty"`
}

func init() {
	register("goaway-race", func() Fault {
		return &GoAwayRace{Stream: 2, CloseAfter: yamlconf.Duration(100 * time.Millisecond)}
	})
}

// Validate reports problems with the parameters.
func (f *GoAwayRace) Validate() error {
	var errs []error
	if f.Stream < 1 {
		errs = append(errs, fmt.Errorf("goaway-race: stream: %d is not allowed; allowed: 1 or more (the Nth stream of a connection)", f.Stream))
	}
	if f.CloseAfter < 0 {
		errs = append(errs, fmt.Errorf("goaway-race: close-after: %s is not allowed; allowed: 0 or more", f.CloseAfter))
	}
	return errors.Join(errs...)
}

func (f *GoAwayRace) h2opened(h *h2conn, id uint32) (refused, ok bool) {
	if h.opened != f.Stream {
		return false, true
	}
	h.acting = f
	last := uint32(0) // the stream before it (a client's stream ids go up by 2), or none
	if id > 2 {
		last = id - 2
	}
	h.injected()
	if err := h.goAwayAt(last, http2.ErrCodeNo); err != nil {
		h.peerGone(err)
		return false, false
	}
	h.closeAt = time.Now().Add(f.CloseAfter.D())
	return true, true // not processed: the client learns it from the GOAWAY
}

var _ H2ConnFault = (*GoAwayRace)(nil)
