package faultserver

// NoResponse reads the whole request and closes without writing a byte (F5): the
// NoHttpResponseException / "socket hang up" case.
type NoResponse struct {
	Selector `yaml:",inline"`
	// Close is fin or rst.
	Close CloseMode `yaml:"close"`
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

var _ ResponseFault = (*NoResponse)(nil)
