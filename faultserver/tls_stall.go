package faultserver

import (
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

// Validate reports problems with the parameters (there are none beyond the selector's).
func (f *TLSStall) Validate() error { return nil }

func (f *TLSStall) handshake(c *conn) bool {
	c.injected()
	if f.Delay > 0 {
		if err := c.wait(f.Delay.D()); err != nil {
			c.peerGone(err)
			return false
		}
		return true
	}
	// Never answer; read and drop whatever comes so the peer's close is noticed. Shutdown
	// closes the connection and ends the drain.
	c.drainUntilClosed()
	return false
}

var _ HandshakeFault = (*TLSStall)(nil)
