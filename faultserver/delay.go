package faultserver

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// Delay slows the normal response (F7): HeadDelay before the first byte of the head, then the
// body dripped at BodyRate bytes per second. A proxy's read timeout turns this into a 504.
type Delay struct {
	Selector `yaml:",inline"`
	// HeadDelay is the wait before the response head.
	HeadDelay yamlconf.Duration `yaml:"head-delay,omitempty"`
	// BodyRate, when > 0, sends the body (with its chunk framing) at this many bytes per second.
	BodyRate int `yaml:"body-rate,omitempty"`
}

func init() {
	register("delay", func() Fault { return &Delay{} })
}

// Validate reports problems with the parameters.
func (f *Delay) Validate() error {
	var errs []error
	if f.BodyRate < 0 {
		errs = append(errs, fmt.Errorf("delay: body-rate: %d is not allowed; allowed: 0 (no drip) or more bytes per second", f.BodyRate))
	}
	if f.HeadDelay == 0 && f.BodyRate == 0 {
		errs = append(errs, fmt.Errorf("delay: set head-delay (e.g. 2s) or body-rate (bytes per second), or both"))
	}
	return errors.Join(errs...)
}

// dripInterval is how often a dripped body gets its next slice.
const dripInterval = 50 * time.Millisecond

func (f *Delay) respond(c *conn, req *Request) (bool, error) {
	keep := !req.Close
	if err := c.wait(f.HeadDelay.D()); err != nil {
		return false, err
	}
	if f.BodyRate == 0 {
		return keep, c.write(c.plan.resp.bytesFor(req, keep))
	}
	head, body := c.normalResponse(req, keep)
	if err := c.write(head); err != nil {
		return false, err
	}
	if _, err := (&dripWriter{c: c, rate: f.BodyRate}).Write(body); err != nil {
		return false, err
	}
	return keep, nil
}

// relay forwards the request, holds the app's answer HeadDelay, then passes it on, the body
// dripped at BodyRate when set.
func (f *Delay) relay(c *conn, req *Request) bool {
	h := c.exchange(req)
	if h == nil {
		return false
	}
	c.injected()
	if err := c.wait(f.HeadDelay.D()); err != nil {
		c.peerGone(err)
		return false
	}
	if !c.passHead(h, -1) {
		return false
	}
	w := io.Writer(c.nc)
	if f.BodyRate > 0 {
		w = &dripWriter{c: c, rate: f.BodyRate}
	}
	if _, ok := c.passBody(h, req, -1, false, w); !ok {
		return false
	}
	return c.exchangeDone(h, req)
}

var _ relayResponder = (*Delay)(nil)

// bounds is the head delay; a dripped body adds its own time, which depends on the normal
// response's size (set by the operator, not the header).
func (f *Delay) bounds() (int64, time.Duration) { return 0, f.HeadDelay.D() }

// sparesRequest: a delay fails a request only when the proxy's timeout is shorter.
func (f *Delay) sparesRequest() {}

var (
	_ ResponseFault = (*Delay)(nil)
	_ sparing       = (*Delay)(nil)
)

// h2respond holds the stream's answer HeadDelay, then sends it, the body dripped at BodyRate
// when set (END_STREAM on the last slice).
func (f *Delay) h2respond(h *h2conn, st *h2stream) bool {
	h.injected()
	h.hold(st, time.Now().Add(f.HeadDelay.D()), f.h2answer)
	return true
}

func (f *Delay) h2answer(h *h2conn, st *h2stream) bool {
	r := h.plan.cfg.Response
	body := h.plan.resp.payload
	if f.BodyRate == 0 || len(body) == 0 {
		return h.respond(st, r.Status, body)
	}
	if h.writeHeaders(st, r.Status, len(body), false) != nil {
		return false
	}
	st.rest = body
	return f.h2drip(h, st)
}

// h2drip releases the body's next slice to the stream's flow-controlled sending and holds
// the one after it.
func (f *Delay) h2drip(h *h2conn, st *h2stream) bool {
	step, every := dripStep(f.BodyRate)
	k := min(step, len(st.rest))
	st.pending = append(st.pending, st.rest[:k]...)
	st.rest = st.rest[k:]
	if len(st.rest) > 0 {
		h.hold(st, time.Now().Add(every), f.h2drip)
	}
	return h.sendPending()
}

var _ H2StreamFault = (*Delay)(nil)
