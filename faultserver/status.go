package faultserver

import (
	"fmt"
	"net/http"
	"strconv"
)

// Status answers with a chosen status code instead of the normal one — an origin that is
// itself failing (503 during a deploy, 500 on a bug), to compare with the proxy's own 5xx.
type Status struct {
	Selector `yaml:",inline"`
	// Code is the status code, 200 to 599.
	Code int `yaml:"code"`
}

func init() {
	register("status", func() Fault { return &Status{Code: http.StatusServiceUnavailable} })
}

// Validate reports problems with the parameters.
func (f *Status) Validate() error {
	if f.Code < 200 || f.Code > 599 {
		return fmt.Errorf("status: code: %d is not allowed; allowed: 200 to 599", f.Code)
	}
	return nil
}

const statusPrefix = "gatecrash status fault: "

func (f *Status) respond(c *conn, req *Request) (bool, error) {
	const prefix = statusPrefix
	keep := !req.Close
	b := renderHead(c.wbuf[:0], f.Code, len(prefix)+4, false, modeFor(req, keep)) // "503\n"
	if !isHEAD(req) {
		b = append(b, prefix...)
		b = strconv.AppendInt(b, int64(f.Code), 10)
		b = append(b, '\n')
	}
	c.wbuf = b
	return keep, c.write(b)
}

// h2respond answers the stream with the status (and the same short body).
func (f *Status) h2respond(h *h2conn, st *h2stream) bool {
	h.injected()
	return h.respond(st, f.Code, statusBodies[f.Code-200])
}

// statusBodies are the status fault's bodies for codes 200-599, laid out once: an HTTP/2
// answer holds its body until the flow-control windows let it go, so it cannot be written
// into the connection's buffer as the HTTP/1.1 one is. Shared; never written to.
var statusBodies = func() (t [400][]byte) {
	for i := range t {
		t[i] = append(strconv.AppendInt([]byte(statusPrefix), int64(200+i), 10), '\n')
	}
	return t
}()

var (
	_ ResponseFault = (*Status)(nil)
	_ H2StreamFault = (*Status)(nil)
)
