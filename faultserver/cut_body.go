package faultserver

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatecrash/gatecrash/internal/http1"
)

// CutBody sends the response head announcing a BodySize-byte body, then only AfterBytes bytes
// of it, then closes (F4). With Content-Length the client is short of the declared length;
// with chunked the stream stops inside a chunk and the last chunk never comes. HTTP/1.0
// requests always get Content-Length. A HEAD request gets the head, then the close.
type CutBody struct {
	Selector `yaml:",inline"`
	// BodySize is the body length the head announces.
	BodySize int `yaml:"body-size"`
	// AfterBytes is how many body bytes are sent before the close.
	AfterBytes int `yaml:"after-bytes"`
	// Chunked uses Transfer-Encoding: chunked instead of Content-Length.
	Chunked bool `yaml:"chunked,omitempty"`
	// Close is fin or rst.
	Close CloseMode `yaml:"close"`
}

func init() {
	register("cut-body", func() Fault { return &CutBody{BodySize: 1024, AfterBytes: 512, Close: CloseFIN} })
}

// Validate reports problems with the parameters.
func (f *CutBody) Validate() error {
	var errs []error
	if f.BodySize < 1 || f.BodySize > MaxBodySize {
		errs = append(errs, fmt.Errorf("cut-body: body-size: %d is not allowed; allowed: 1 to %d", f.BodySize, MaxBodySize))
	}
	if f.AfterBytes < 0 || f.AfterBytes >= f.BodySize {
		errs = append(errs, fmt.Errorf("cut-body: after-bytes: %d is not allowed; allowed: 0 to body-size-1 (%d)", f.AfterBytes, f.BodySize-1))
	}
	return errors.Join(append(errs, f.Close.validate("cut-body"))...)
}

func (f *CutBody) respond(c *conn, req *Request) (bool, error) {
	chunked := f.Chunked && req.Minor == 1
	if err := c.writeHead(c.plan.cfg.Response.Status, f.BodySize, chunked, req, !req.Close); err != nil {
		return false, err
	}
	if !isHEAD(req) {
		if err := c.writePayload(f.BodySize, f.AfterBytes, chunked); err != nil {
			return false, err
		}
	}
	c.closeAs(f.Close)
	return false, nil
}

// relay forwards the request and passes on the app's head and the first AfterBytes bytes of
// its body, then closes. BodySize and Chunked are the app's: a body of Content-Length L <=
// AfterBytes is cut after L-1 bytes, and a chunked one that ends first is cut before its
// last chunk, so the client is always left short. A response with no body (HEAD, 204, 304,
// Content-Length: 0) is cut right after its head; a body delimited by the close that ends
// before AfterBytes cannot be cut where the client would notice.
func (f *CutBody) relay(c *conn, req *Request) bool {
	h := c.exchange(req)
	if h == nil {
		return false
	}
	limit := int64(f.AfterBytes)
	if h.Framing(isHEAD(req)) == http1.BodyLength {
		limit = min(limit, max(h.ContentLength-1, 0))
	}
	c.injected()
	if !c.passHead(h, -1) {
		return false
	}
	if _, ok := c.passBody(h, req, limit, true, c.nc); ok {
		c.closeAs(f.Close)
	}
	return false
}

var _ relayResponder = (*CutBody)(nil)

func (f *CutBody) bounds() (int64, time.Duration) { return int64(f.BodySize), 0 }

var _ ResponseFault = (*CutBody)(nil)

func (f *CutBody) afterBytes() (int64, bool) { return int64(f.AfterBytes), true }
