package faultserver

// PingSilence never answers the client's PING on a chosen HTTP/2 connection, while it goes on
// answering streams: a peer whose liveness check fails. A client that pings to find dead
// connections (Go's http2 Transport with ReadIdleTimeout and PingTimeout, gRPC keepalive)
// closes the connection as dead when its PING goes unanswered, failing the streams on it.
// Counted once per connection, at its first unanswered PING.
type PingSilence struct {
	Selector    `yaml:",inline"`
	h2ConnHooks `yaml:"-"`
}

func init() { register("ping-silence", func() Fault { return &PingSilence{} }) }

// Validate reports problems with the parameters (it has none).
func (f *PingSilence) Validate() error { return nil }

func (f *PingSilence) h2ping(h *h2conn) bool {
	if !h.shaped {
		h.shaped = true
		h.acting = f
		h.injected()
	}
	return false
}

// sparesRequest: it fails no stream by itself; the client's close of a "dead" connection does.
func (f *PingSilence) sparesRequest() {}

var (
	_ H2ConnFault = (*PingSilence)(nil)
	_ sparing     = (*PingSilence)(nil)
)
