package faultserver

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/net/http2"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// GoAwayIdle ends an HTTP/2 connection once it has had no stream open for Timeout (± Jitter):
// GOAWAY (NO_ERROR, the last stream id the highest the client opened), then the close — what
// nginx's keepalive_timeout, Go's IdleTimeout and most h2 servers do. A proxy that pools the
// connection longer races it: a stream it opens as the GOAWAY is on its way is refused or lost
// with the connection (the h2 keep-alive race). CloseAfter, when set, waits that long between
// the GOAWAY and the close, reading and refusing (RST_STREAM REFUSED_STREAM) any stream the
// client opens meanwhile, as a graceful server does; 0 closes at once.
type GoAwayIdle struct {
	Selector `yaml:",inline"`
	// Timeout is how long the connection may have no stream open.
	Timeout yamlconf.Duration `yaml:"timeout"`
	// Jitter spreads each idle period's timeout uniformly over Timeout ± Jitter.
	Jitter yamlconf.Duration `yaml:"jitter,omitempty"`
	// CloseAfter is the time between the GOAWAY and the close.
	CloseAfter yamlconf.Duration `yaml:"close-after,omitempty"`
	// Close is how the connection ends: fin (the usual) or rst.
	Close CloseMode `yaml:"close"`
}

func init() {
	register("goaway-idle", func() Fault {
		return &GoAwayIdle{Timeout: yamlconf.Duration(5 * time.Second), Close: CloseFIN}
	})
}

// Validate reports problems with the parameters.
func (f *GoAwayIdle) Validate() error {
	var errs []error
	if f.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("goaway-idle: timeout must be > 0 (e.g. 5s)"))
	}
	if f.Jitter > f.Timeout {
		errs = append(errs, fmt.Errorf("goaway-idle: jitter %s is larger than timeout %s; allowed: 0 to timeout", f.Jitter, f.Timeout))
	}
	if f.CloseAfter < 0 {
		errs = append(errs, fmt.Errorf("goaway-idle: close-after: %s is not allowed; allowed: 0 or more", f.CloseAfter))
	}
	return errors.Join(append(errs, f.Close.validate("goaway-idle"))...)
}

// h2idle waits for the next frame for this idle period's timeout, counted from the end of the
// last stream, and sends GOAWAY and closes if none came.
func (f *GoAwayIdle) h2idle(h *h2conn) bool {
	arrived, timedOut := h.awaitRequest(h.idleSince().Add(jittered(h.rng, f.Timeout.D(), f.Jitter.D())))
	if !timedOut {
		return arrived
	}
	h.injected()
	if err := h.goAway(http2.ErrCodeNo); err != nil {
		h.peerGone(err)
		return false
	}
	if f.CloseAfter > 0 {
		h.refuseUntil(time.Now().Add(f.CloseAfter.D()))
	}
	h.closeAs(f.Close)
	return false
}

func (f *GoAwayIdle) bounds() (int64, time.Duration) {
	return 0, f.Timeout.D() + f.Jitter.D() + f.CloseAfter.D()
}

var _ H2IdleFault = (*GoAwayIdle)(nil)
