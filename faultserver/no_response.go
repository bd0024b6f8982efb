package faultserver

import "io"

// NoResponse reads the whole request and closes without writing a byte (F5): the
// NoHttpResponseException / "socket hang up" case.
type NoResponse struct {
	Selector `yaml:",inline"`
	// Close is fin or rst.
	Close CloseMode `yaml:"close"`
	// Forward, in relay mode (serve --upstream), sends the request on to the app, which
	// handles it and answers — the answer is dropped: the dangerous case for a POST, done
	// but never confirmed. With forward: false the app never sees it. Default true.
	Forward *bool `yaml:"forward,omitempty"`
}

func init() {
	register("no-response", func() Fault { return &NoResponse{Close: CloseFIN} })
}

// Validate reports problems with the parameters.
func (f *NoResponse) Validate() error { return f.Close.validate("no-response") }

func (f *NoResponse) respond(c *conn, _ *Request) (bool, error) {
	c.closeAs(f.Close)
	return false, nil
}

// relay forwards the request (unless forward is false), reads the app's whole answer and
// drops it, then closes with nothing written.
func (f *NoResponse) relay(c *conn, req *Request) bool {
	if f.Forward != nil && !*f.Forward {
		if err := c.readBody(req); err != nil {
			c.bodyFailed(err)
			return false
		}
		c.injected()
		c.closeAs(f.Close)
		return false
	}
	h := c.exchange(req)
	if h == nil {
		return false
	}
	c.injected()
	if _, ok := c.passBody(h, req, -1, false, io.Discard); ok {
		c.closeAs(f.Close)
	}
	return false
}

var _ relayResponder = (*NoResponse)(nil)
