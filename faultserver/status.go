package faultserver

import (
	"fmt"
	"net/http"
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

// Kind returns "status".
func (f *Status) Kind() string { return "status" }

// Validate reports problems with the parameters.
func (f *Status) Validate() error {
	if f.Code < 200 || f.Code > 599 {
		return fmt.Errorf("status: code: %d is not allowed; allowed: 200 to 599", f.Code)
	}
	return nil
}

func (f *Status) respond(c *conn, _ *Plan, req *Request) (bool, error) {
	keep := !req.Close
	body := fmt.Appendf(nil, "gatecrash status fault: %d\n", f.Code)
	return keep, c.writeStatus(f.Code, body, req, keep)
}

var _ ResponseFault = (*Status)(nil)
