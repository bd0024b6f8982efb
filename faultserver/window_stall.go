package faultserver

import (
	"fmt"

	"golang.org/x/net/http2"

	"github.com/gatecrash/gatecrash/internal/h2wire"
)

// WindowStall never opens its flow-control windows on a chosen HTTP/2 connection: it
// advertises Window as each stream's initial window (SETTINGS_INITIAL_WINDOW_SIZE; the
// connection's stays the spec's 65,535) and sends no WINDOW_UPDATE, so a client can send only
// that much request body per stream, and 65,535 bytes on the whole connection; then its
// uploads stall until it gives up (a timeout). A server whose reader is stuck, or a buggy
// flow-control implementation. Counted once per connection, when the client has used up a
// window.
type WindowStall struct {
	Selector    `yaml:",inline"`
	h2ConnHooks `yaml:"-"`
	// Window is the initial stream window advertised (65535: the spec's default, unchanged).
	Window int `yaml:"window"`
}

func init() {
	register("window-stall", func() Fault { return &WindowStall{Window: h2wire.DefaultWindow} })
}

// Validate reports problems with the parameters.
func (f *WindowStall) Validate() error {
	if f.Window < 0 || f.Window > 1<<31-1 {
		return fmt.Errorf("window-stall: window: %d is not allowed; allowed: 0 to 2147483647 bytes", f.Window)
	}
	return nil
}

func (f *WindowStall) h2settings() []http2.Setting {
	if f.Window == h2wire.DefaultWindow {
		return nil
	}
	return []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: uint32(f.Window)}}
}

func (f *WindowStall) h2window(h *h2conn, st *h2stream, n uint32) bool {
	if !h.shaped && (h.received >= h2wire.DefaultWindow || st != nil && st.body+int64(n) >= int64(f.Window)) {
		h.shaped = true
		h.acting = f
		h.injected()
	}
	return false
}

// sparesRequest: counted per connection; the streams it stalls end by the client's timeout.
func (f *WindowStall) sparesRequest() {}

var (
	_ H2ConnFault = (*WindowStall)(nil)
	_ sparing     = (*WindowStall)(nil)
)
