package faultserver

import (
	"errors"
	"fmt"

	"golang.org/x/net/http2"
)

// MaxStreams limits the streams an HTTP/2 connection may have open at once
// (SETTINGS_MAX_CONCURRENT_STREAMS) and refuses, with RST_STREAM REFUSED_STREAM, every stream
// the client opens past it — each refusal counted. With LowerAfter 0 the limit is in the
// server's first SETTINGS: a client that opens streams before it has read them (its first
// flight on a new connection) meets it. With LowerAfter N the connection starts without a
// limit and, as its Nth stream opens, the server sends SETTINGS lowering it to Streams — what a
// loaded server does — and refuses at once what is over it: the streams already on their way
// race the new setting. A refused stream was not processed, so any client may send it again.
type MaxStreams struct {
	Selector    `yaml:",inline"`
	h2ConnHooks `yaml:"-"`
	// Streams is the limit.
	Streams int `yaml:"streams"`
	// LowerAfter, when > 0, is the stream as which the limit is announced (0: from the start).
	LowerAfter int `yaml:"lower-after,omitempty"`
}

func init() { register("max-streams", func() Fault { return &MaxStreams{Streams: 100} }) }

// Validate reports problems with the parameters.
func (f *MaxStreams) Validate() error {
	var errs []error
	if f.Streams < 0 {
		errs = append(errs, fmt.Errorf("max-streams: streams: %d is not allowed; allowed: 0 or more", f.Streams))
	}
	if f.LowerAfter < 0 {
		errs = append(errs, fmt.Errorf("max-streams: lower-after: %d is not allowed; allowed: 0 (the limit from the start) or more", f.LowerAfter))
	}
	return errors.Join(errs...)
}

func (f *MaxStreams) h2settings() []http2.Setting {
	if f.LowerAfter > 0 {
		return nil
	}
	return []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: uint32(f.Streams)}}
}

func (f *MaxStreams) h2opened(h *h2conn, id uint32) (refused, ok bool) {
	if f.LowerAfter > 0 {
		if h.opened < f.LowerAfter {
			return false, true
		}
		if h.opened == f.LowerAfter &&
			h.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: uint32(f.Streams)}) != nil {
			return false, false
		}
	}
	if len(h.streams) < f.Streams {
		return false, true
	}
	h.acting = f
	h.injected()
	if h.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream) != nil {
		return false, false
	}
	return true, true
}

var _ H2ConnFault = (*MaxStreams)(nil)
