package faultserver

import (
	"errors"
	"fmt"
)

// FinMidRequest closes while the request is still arriving (F2): after reading exactly
// AfterBytes bytes of it, counted from its first byte (head, then body). Bytes after that stay
// unread in the kernel, so with close: fin Linux answers with an RST if more of the request
// had already arrived — as a real server that gives up does — and the counters say which went
// out. With half-close the server sends FIN but keeps reading, so the client's writes succeed
// and it sees a clean end of stream instead.
//
// With a match selector the decision needs the head, so the whole head (and whatever body
// arrived with it) has been read first; AfterBytes then only cuts into the body.
type FinMidRequest struct {
	Selector `yaml:",inline"`
	// AfterBytes is how many request bytes are read before closing (0: none).
	AfterBytes int64 `yaml:"after-bytes"`
	// Close is fin or rst.
	Close CloseMode `yaml:"close"`
	// HalfClose shuts down only the sending side and drains the request.
	HalfClose bool `yaml:"half-close,omitempty"`
}

func init() {
	register("fin-mid-request", func() Fault { return &FinMidRequest{Close: CloseFIN} })
}

// Validate reports problems with the parameters.
func (f *FinMidRequest) Validate() error {
	var errs []error
	if f.AfterBytes < 0 {
		errs = append(errs, fmt.Errorf("fin-mid-request: after-bytes: %d is not allowed; allowed: 0 or more", f.AfterBytes))
	}
	if f.HalfClose && f.Close == CloseRST {
		errs = append(errs, fmt.Errorf("fin-mid-request: half-close sends a FIN and cannot be combined with close: rst"))
	}
	return errors.Join(append(errs, f.Close.validate("fin-mid-request"))...)
}

func (f *FinMidRequest) request(c *conn) bool {
	c.forwardReads = true // in relay mode the app sees the start of the request, then the close
	if !c.readRequestBytes(f.AfterBytes) {
		return false
	}
	c.injected()
	if f.HalfClose {
		c.halfClose()
	} else {
		c.closeAs(f.Close)
	}
	return false
}

var _ RequestFault = (*FinMidRequest)(nil)

func (f *FinMidRequest) afterBytes() (int64, bool) { return f.AfterBytes, true }
