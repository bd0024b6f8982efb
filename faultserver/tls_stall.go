package faultserver

import (
	"io"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// TLSStall acts on the TLS listener (F6): it accepts the TCP connection and never answers the
// ClientHello, holding the connection until the client gives up — or, with Delay, answers
// after that long and then serves normally. The proxy sees its connect/handshake timeout.
type TLSStall struct {
	Selector `yaml:",inline"`
	// Delay before the handshake goes ahead; 0 means never.
	Delay yamlconf.Duration `yaml:"delay,omitempty"`
}

func init() {
	register("tls-stall", func() Fault { return &TLSStall{} })
}

// Kind returns "tls-stall".
func (f *TLSStall) Kind() string { return "tls-stall" }

// Validate reports problems with the parameters (there are none beyond the selector's).
func (f *TLSStall) Validate() error { return nil }

func (f *TLSStall) stall(c *conn) bool {
	if f.Delay > 0 {
		return c.wait(f.Delay.D())
	}
	// Never answer; read and drop whatever comes so the peer's close is noticed. Shutdown
	// closes the connection and ends the copy.
	c.nc.SetReadDeadline(time.Time{})
	_, err := io.Copy(io.Discard, c.nc)
	if err == nil {
		err = io.EOF
	}
	c.peerGone(err)
	return false
}

var _ HandshakeFault = (*TLSStall)(nil)
