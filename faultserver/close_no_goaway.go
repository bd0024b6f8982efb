package faultserver

// CloseNoGoAway ends an HTTP/2 connection without a GOAWAY when the chosen stream's request
// has been read: FIN (or RST) with that stream — and any other open one — unanswered. A
// crashed or killed server, or one that closes before its graceful shutdown: the client
// cannot tell which streams were processed (no last stream id), so it may not retry them.
type CloseNoGoAway struct {
	Selector `yaml:",inline"`
	// Close is how the connection ends: fin or rst.
	Close CloseMode `yaml:"close"`
}

func init() { register("close-no-goaway", func() Fault { return &CloseNoGoAway{Close: CloseFIN} }) }

// Validate reports problems with the parameters.
func (f *CloseNoGoAway) Validate() error { return f.Close.validate("close-no-goaway") }

func (f *CloseNoGoAway) h2respond(h *h2conn, _ *h2stream) bool {
	h.injected()
	h.closeAs(f.Close)
	return false
}

var _ H2StreamFault = (*CloseNoGoAway)(nil)
