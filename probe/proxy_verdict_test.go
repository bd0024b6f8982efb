package probe

import (
	"strings"
	"testing"
	"time"
)

// A proxy that never closed its idle upstream connections within --max-wait is said to ignore
// its idle_timeout only when that setting should have closed them within the wait: set to 2s
// over a 10s wait, yes; to 60s, 0 (no limit) or not at all, the usual advice.
func TestVerdictIdleSettingNotReached(t *testing.T) {
	for _, c := range []struct {
		setting string
		ignored bool
	}{{"2s", true}, {"60s", false}, {"0", false}, {"", false}} {
		r := &ProxyReport{Proxy: "caddy", Pooled: 1, Never: true, ReusesStale: true, MaxWait: 10 * time.Second, IdleSetting: c.setting}
		v := r.verdict()
		if got := strings.Contains(v, "does not reach these connections"); got != c.ignored {
			t.Errorf("idle_timeout %q over a 10s wait: %q", c.setting, v)
		}
	}
}
