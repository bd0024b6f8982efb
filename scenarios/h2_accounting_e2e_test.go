//go:build linux

package scenarios

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
)

// Over HTTP/2 too, through real proxies that pool h2 upstream connections, every fault the
// origin injects reaches the client or was absorbed by the proxy sending the stream again —
// exactly: injected == client-visible errors + (streams the origin saw opened - requests the
// client sent). Per stream kinds: rst-stream (refused and internal-error, before the
// response) and goaway-race (the 2nd stream of each connection left unprocessed; one client
// connection, so that no other stream is on its way when the GOAWAY goes: a stream opened
// after it is refused as the spec says, not injected, and would count twice); each variant
// must show injected faults, or the test checks nothing. (close-no-goaway fails every stream
// in flight on one injection, and window-stall counts per connection: not per-request kinds.)
func TestH2AccountingThroughProxies(t *testing.T) {
	if testing.Short() {
		t.Skip("three proxies × three variants")
	}
	const yaml = `apiVersion: gatecrash/v1
name: h2-accounting
description: per-stream h2 faults through a proxy pooling h2 upstream connections
origin:
  http2: true
  seed: 2704
proxy:
  kind: embedded
  vars:
    upstream_proto: h2c
load:
  method: GET
  connections: 8
  requests: 3000
  duration: 20s
variants:
  - name: refused
    origin:
      faults:
        - kind: rst-stream
          code: refused-stream
          probability: 0.01
  - name: internal
    origin:
      faults:
        - kind: rst-stream
          code: internal-error
          probability: 0.01
  - name: goaway-race
    load:
      connections: 1
    origin:
      faults:
        - kind: goaway-race
          stream: 2
`
	for _, kind := range []proxy.Kind{proxy.Caddy, proxy.HAProxy, proxy.Nghttpx} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e2e.Need(t, kind)
			sc, err := Parse([]byte(yaml), "h2-accounting.yaml")
			if err != nil {
				t.Fatal(err)
			}
			run, err := sc.Run(context.Background(), RunOptions{Proxy: kind, Duration: 20 * time.Second, OutDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range run.Results {
				o := origin(t, r)
				injected := int64(o.FaultsTotal())
				resent := int64(o.RequestsStarted) - r.Requests
				msg := fmt.Sprintf("%s: injected %d %v, client %s (%d errors), sent again by the proxy %d", r.Variant, injected,
					o.Faults, counts(r), r.Errors(), resent)
				t.Log(msg)
				if injected == 0 || r.Requests != 3000 {
					t.Errorf("%s: the variant must inject faults and send all 3000 requests", msg)
				}
				if injected != r.Errors()+resent {
					t.Errorf("%s: injected != client-visible + absorbed", msg)
				}
			}
		})
	}
}
