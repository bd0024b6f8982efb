package faultserver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// IdleClose closes a keep-alive connection once it has been idle for Timeout (± Jitter) after
// its last response — what uvicorn, Node.js and Apache do after 5 s. A proxy that keeps the
// connection pooled longer races this close (failure F1). The timer is a socket read deadline,
// so it fires within a millisecond or so of the timeout, not on a coarse ticker.
type IdleClose struct {
	Selector `yaml:",inline"`
	// Timeout is how long the connection may sit idle.
	Timeout yamlconf.Duration `yaml:"timeout"`
	// Jitter spreads each idle period's timeout uniformly over Timeout ± Jitter.
	Jitter yamlconf.Duration `yaml:"jitter,omitempty"`
	// Close is how the connection ends: fin (the usual) or rst.
	Close CloseMode `yaml:"close"`
}

func init() {
	register("idle-close", func() Fault {
		return &IdleClose{Timeout: yamlconf.Duration(5 * time.Second), Close: CloseFIN}
	})
}

// Validate reports problems with the parameters.
func (f *IdleClose) Validate() error {
	var errs []error
	if f.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("idle-close: timeout must be > 0 (e.g. 5s)"))
	}
	if f.Jitter > f.Timeout {
		errs = append(errs, fmt.Errorf("idle-close: jitter %s is larger than timeout %s; allowed: 0 to timeout", f.Jitter, f.Timeout))
	}
	return errors.Join(append(errs, f.Close.validate("idle-close"))...)
}

// idle waits for the next request for this idle period's timeout, counted from the end of
// the last response as a real server's keep-alive timer is, and closes if none came.
func (f *IdleClose) idle(c *conn) bool {
	arrived, timedOut := c.awaitRequest(c.idleSince().Add(f.period(c.rng)))
	if timedOut {
		c.injected()
		c.closeAs(f.Close)
	}
	return arrived
}

// period is one idle period's timeout: Timeout ± Jitter, uniformly.
func (f *IdleClose) period(rng *rand.Rand) time.Duration {
	d := f.Timeout.D()
	if f.Jitter > 0 {
		d += time.Duration((2*rng.Float64() - 1) * float64(f.Jitter))
	}
	return max(d, time.Microsecond)
}

func (f *IdleClose) bounds() (int64, time.Duration) { return 0, f.Timeout.D() + f.Jitter.D() }

var _ IdleFault = (*IdleClose)(nil)
