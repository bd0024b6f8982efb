package faultserver

import (
	"errors"
	"fmt"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// CloseOnReuse is the keep-alive race (F1) made deterministic: when a request arrives on a
// reused connection that sat idle for at least MinIdle, the server reads it (or its first
// AfterBytes bytes) and closes without a response — what the proxy sees when its pooled
// connection was closed by the origin a moment before it wrote. Fresh connections are never
// touched, so a proxy that retries on a new connection succeeds.
type CloseOnReuse struct {
	Selector `yaml:",inline"`
	// MinIdle is the shortest idle period that triggers the fault (0: every reuse).
	MinIdle yamlconf.Duration `yaml:"min-idle,omitempty"`
	// AfterBytes, when set, closes after that many bytes of the request instead of after all
	// of it (0: as soon as the request starts arriving).
	AfterBytes *int64 `yaml:"after-bytes,omitempty"`
	// Close is fin or rst.
	Close CloseMode `yaml:"close"`
}

func init() {
	register("close-on-reuse", func() Fault { return &CloseOnReuse{Close: CloseFIN} })
}

// Validate reports problems with the parameters.
func (f *CloseOnReuse) Validate() error {
	var errs []error
	if f.AfterBytes != nil && *f.AfterBytes < 0 {
		errs = append(errs, fmt.Errorf("close-on-reuse: after-bytes: %d is not allowed; allowed: 0 or more", *f.AfterBytes))
	}
	return errors.Join(append(errs, f.Close.validate("close-on-reuse"))...)
}

func (f *CloseOnReuse) applies(in *selInput) bool { return in.reused && in.idle >= f.MinIdle.D() }

// appliesEarly: a new connection's first request never; with no min-idle every reused one;
// otherwise it depends on the idle time, known when the request comes.
func (f *CloseOnReuse) appliesEarly(in *selInput) (applies, known bool) {
	switch {
	case !in.reused:
		return false, true
	case f.MinIdle.D() <= 0:
		return true, true
	}
	return false, false
}

func (f *CloseOnReuse) request(c *conn) bool {
	ok := false
	if f.AfterBytes != nil {
		ok = c.readRequestBytes(*f.AfterBytes)
	} else {
		ok = c.readRequest()
	}
	if ok {
		c.injected()
		c.closeAs(f.Close)
	}
	return false
}

var (
	_ RequestFault = (*CloseOnReuse)(nil)
	_ conditional  = (*CloseOnReuse)(nil)
)

func (f *CloseOnReuse) afterBytes() (int64, bool) {
	if f.AfterBytes == nil {
		return 0, false
	}
	return *f.AfterBytes, true
}
