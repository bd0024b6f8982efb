package faultserver

import "fmt"

// RSTHeaders writes the first AfterBytes bytes of the normal response head, waits until they
// have left this host (not for the peer's ACK, which may be delayed 40 ms), then resets the
// connection (F3). The default, 17, is exactly the
// status line "HTTP/1.1 200 OK\r\n". A value past the end of the head sends the whole head and
// no body.
type RSTHeaders struct {
	Selector `yaml:",inline"`
	// AfterBytes is how many bytes of the response head are sent before the RST.
	AfterBytes int `yaml:"after-bytes"`
}

func init() {
	register("rst-headers", func() Fault { return &RSTHeaders{AfterBytes: 17} })
}

// Validate reports problems with the parameters.
func (f *RSTHeaders) Validate() error {
	if f.AfterBytes < 0 {
		return fmt.Errorf("rst-headers: after-bytes: %d is not allowed; allowed: 0 or more", f.AfterBytes)
	}
	return nil
}

func (f *RSTHeaders) respond(c *conn, req *Request) (bool, error) {
	head, _ := c.normalResponse(req, !req.Close)
	if n := min(f.AfterBytes, len(head)); n > 0 {
		if err := c.write(head[:n]); err != nil {
			return false, err
		}
	}
	c.closeAs(CloseRST)
	return false, nil
}

// relay forwards the request, then passes on the first AfterBytes bytes of the app's own
// response head (17 is the whole of "HTTP/1.1 200 OK\r\n"), then resets.
func (f *RSTHeaders) relay(c *conn, req *Request) bool {
	h := c.exchange(req)
	if h == nil {
		return false
	}
	c.injected()
	if c.passHead(h, f.AfterBytes) {
		c.closeAs(CloseRST)
	}
	return false
}

var _ relayResponder = (*RSTHeaders)(nil)
