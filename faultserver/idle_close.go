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
	// Mode says what happens to a request already in the socket when the timer fires: close
	// (the default) closes anyway — the widest race window, as a server whose timer wins
	// over its reads; serve serves it, as event-loop servers do (nginx, asyncio's uvicorn,
	// Node), which handle the socket's readiness before their timers. Then only a request
	// that arrives after the server's last look, or that crosses the close on the wire,
	// races it.
	Mode IdleMode `yaml:"mode,omitempty"`
}

// IdleMode is what an idle close does with a request already in the socket.
type IdleMode string

// Idle modes.
const (
	IdleModeClose IdleMode = "close"
	IdleModeServe IdleMode = "serve"
)

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
	switch f.Mode {
	case "", IdleModeClose:
	case IdleModeServe:
		if !queueSizesSupported {
			errs = append(errs, fmt.Errorf("idle-close: mode serve needs to see the socket's receive queue, which this system does not show (Linux does)"))
		}
	default:
		errs = append(errs, fmt.Errorf("idle-close: mode: %q is not allowed; allowed: close (close even when a request is already in the socket), serve (serve it, as event-loop servers do)", string(f.Mode)))
	}
	return errors.Join(append(errs, f.Close.validate("idle-close"))...)
}

// idle waits for the next request for this idle period's timeout, counted from the end of
// the last response as a real server's keep-alive timer is, and closes if none came.
func (f *IdleClose) idle(c *conn) bool {
	arrived, timedOut := c.awaitRequest(c.idleSince().Add(f.period(c.rng)))
	if timedOut && f.Mode == IdleModeServe && c.requestWaiting() {
		c.idleFor = time.Since(c.lastDone)
		return true // in the socket as the timer fired: served, not raced
	}
	if timedOut {
		c.injected()
		c.closeAs(f.Close)
	}
	return arrived
}

// period is one idle period's timeout: Timeout ± Jitter, uniformly.
func (f *IdleClose) period(rng *rand.Rand) time.Duration {
	return jittered(rng, f.Timeout.D(), f.Jitter.D())
}

// jittered is d ± jitter, uniformly, at least a microsecond: one idle period's timeout.
func jittered(rng *rand.Rand, d, jitter time.Duration) time.Duration {
	if jitter > 0 {
		d += time.Duration((2*rng.Float64() - 1) * float64(jitter))
	}
	return max(d, time.Microsecond)
}

func (f *IdleClose) bounds() (int64, time.Duration) { return 0, f.Timeout.D() + f.Jitter.D() }

var _ IdleFault = (*IdleClose)(nil)

// How idle-close races compared with a real app server, each mode's 502 rate over real
// uvicorn's behind nginx (docs/fidelity.md, measured by bench/fidelity.sh), across a 1 ms
// link and on loopback.
var idleCloseFidelity = map[IdleMode][3]string{
	IdleModeClose: {"1.4× (1.0–1.9×)", "0.4× (0.2–0.6×)", "about 20×"},
	IdleModeServe: {"0.9× (0.6–1.3×)", "0.5× (0.3–0.8×)", "14–26×"},
}

// IdleCloseFidelity says how often an idle close in mode m races compared with a real app
// server, as measured: a note for results whose origin closed idle connections this way.
func IdleCloseFidelity(m IdleMode) string {
	if m == "" {
		m = IdleModeClose
	}
	f := idleCloseFidelity[m]
	return fmt.Sprintf("origin idle-close (mode %s): behind nginx its race rate was %s real uvicorn's across a 1 ms link, %s on loopback, and %s a real Node.js origin's (docs/fidelity.md)",
		m, f[0], f[1], f[2])
}
