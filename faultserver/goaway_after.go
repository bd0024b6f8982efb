package faultserver

import (
	"fmt"
	"time"

	"golang.org/x/net/http2"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// GoAwayAfter answers a connection's Streams-th stream and then sends GOAWAY — what nginx's
// http2_max_requests (1000) and keepalive_requests do — and closes once the streams it will
// still finish are done (a stream crossing the GOAWAY meets the close); with CloseAfter, it
// first serves that long, refusing (RST_STREAM REFUSED_STREAM) the streams opened after it. Last says what the GOAWAY's last stream id is: exact (the stream just answered:
// the spec's promise, so the client may retry exactly the refused ones) or low (the stream
// before it: a server breaking the promise, so a client that retries what is above the id
// sends an answered request again).
type GoAwayAfter struct {
	Selector `yaml:",inline"`
	// Streams is the number of streams a connection serves before the GOAWAY.
	Streams int `yaml:"streams"`
	// Last is exact or low.
	Last string `yaml:"last"`
	// CloseAfter is how long the server goes on after the GOAWAY, refusing new streams,
	// before it closes (0: as soon as nothing is open).
	CloseAfter yamlconf.Duration `yaml:"close-after,omitempty"`
}

func init() {
	register("goaway-after", func() Fault { return &GoAwayAfter{Streams: 1000, Last: "exact"} })
}

// Validate reports problems with the parameters.
func (f *GoAwayAfter) Validate() error {
	if f.Streams < 1 {
		return fmt.Errorf("goaway-after: streams: %d is not allowed; allowed: 1 or more", f.Streams)
	}
	if f.CloseAfter < 0 {
		return fmt.Errorf("goaway-after: close-after: %s is not allowed; allowed: 0 or more", f.CloseAfter)
	}
	if f.Last != "exact" && f.Last != "low" {
		return fmt.Errorf("goaway-after: last: %q is not allowed; allowed: exact (the last stream answered), low (the one before: a server breaking the spec)", f.Last)
	}
	return nil
}

// applies: the connection's Streams-th stream.
func (f *GoAwayAfter) applies(in *selInput) bool { return in.nth == f.Streams }

func (f *GoAwayAfter) h2respond(h *h2conn, st *h2stream) bool {
	r := h.plan.cfg.Response
	if !h.respond(st, r.Status, h.plan.resp.payload) {
		return false
	}
	last := st.id
	if f.Last == "low" && last >= 3 {
		last -= 2
	}
	h.injected()
	if err := h.goAwayAt(last, http2.ErrCodeNo); err != nil {
		h.peerGone(err)
		return false
	}
	if f.CloseAfter > 0 {
		h.refuseUntil(time.Now().Add(f.CloseAfter.D()))
		h.closeAs(CloseFIN)
		return false
	}
	return true
}

func (f *GoAwayAfter) bounds() (int64, time.Duration) { return 0, f.CloseAfter.D() }

// sparesRequest: the stream it acts on is answered; the ones after it are refused, unprocessed.
func (f *GoAwayAfter) sparesRequest() {}

var (
	_ H2StreamFault = (*GoAwayAfter)(nil)
	_ conditional   = (*GoAwayAfter)(nil)
	_ sparing       = (*GoAwayAfter)(nil)
)
