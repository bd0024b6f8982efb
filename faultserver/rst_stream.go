package faultserver

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/http2"
)

// RSTStream resets an HTTP/2 stream instead of answering it: RST_STREAM with Code, before the
// response HEADERS (the stream was never answered: a refused or crashed request) or after them
// (the status went out, the body never comes). The connection and its other streams go on —
// the h2 form of rst-headers, per stream instead of per connection.
type RSTStream struct {
	Selector `yaml:",inline"`
	// Code is the error code: refused-stream (the server did not process it: safe to retry),
	// internal-error or cancel.
	Code string `yaml:"code"`
	// After is when: before (no HEADERS) or headers (after the response HEADERS).
	After string `yaml:"after"`
}

var rstCodes = map[string]http2.ErrCode{
	"refused-stream": http2.ErrCodeRefusedStream,
	"internal-error": http2.ErrCodeInternal,
	"cancel":         http2.ErrCodeCancel,
}

func init() {
	register("rst-stream", func() Fault { return &RSTStream{Code: "internal-error", After: "before"} })
}

// Validate reports problems with the parameters.
func (f *RSTStream) Validate() error {
	var errs []string
	if _, ok := rstCodes[f.Code]; !ok {
		errs = append(errs, fmt.Sprintf("rst-stream: code: %q is not allowed; allowed: %s", f.Code,
			strings.Join(slices.Sorted(func(yield func(string) bool) {
				for k := range rstCodes {
					if !yield(k) {
						return
					}
				}
			}), ", ")))
	}
	if f.After != "before" && f.After != "headers" {
		errs = append(errs, fmt.Sprintf("rst-stream: after: %q is not allowed; allowed: before (no response HEADERS), headers (after them)", f.After))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func (f *RSTStream) h2respond(h *h2conn, st *h2stream) bool {
	if f.After == "headers" {
		r := h.plan.cfg.Response
		if h.writeHeaders(st, r.Status, r.BodySize, false) != nil {
			return false
		}
	}
	h.injected()
	if err := h.resetStream(st, rstCodes[f.Code]); err != nil {
		h.peerGone(err)
		return false
	}
	return true
}

var _ H2StreamFault = (*RSTStream)(nil)
