package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
)

// probe origin --http2 against a real h2 fault server finds what it was set to do: the idle
// GOAWAY at 300 ms (and the 50 ms it lingers after it), the GOAWAY after 20 streams, and the
// 7 streams it announces; without the idle fault it sees no idle GOAWAY.
func TestOriginH2(t *testing.T) {
	t.Parallel()
	_, plain, _ := faultservertest.OriginH2(t, "goaway-idle:timeout=300ms,close-after=50ms", "goaway-after:streams=20",
		"max-streams:streams=7")
	rep, err := Origin(context.Background(), OriginOptions{URL: "http://" + plain + "/", HTTP2: true, Connections: 3,
		Stagger: 10 * time.Millisecond, MaxWait: 3 * time.Second, MaxRequests: 50})
	if err != nil {
		t.Fatal(err)
	}
	h := rep.H2
	if h == nil || !h.MaxStreamsSet || h.MaxConcurrentStreams != 7 || h.StreamCap != 20 || h.IdleGoAway == nil ||
		h.IdleGoAway.N != 3 || h.IdleGoAway.Min < 295*time.Millisecond || h.IdleGoAway.Max > 400*time.Millisecond {
		t.Fatalf("report %+v, idle %v", h, h.IdleGoAway)
	}
	for _, c := range h.Conns {
		if c.End != "goaway" || c.LastStream != 1 || c.Close != "fin" || c.Linger < 45*time.Millisecond || c.Linger > 150*time.Millisecond {
			t.Errorf("connection %+v: want GOAWAY naming stream 1, then FIN about 50 ms later", c)
		}
	}
	if !strings.Contains(rep.Verdict, "drop idle ones sooner, e.g. after 0.200 s") || rep.IdleTimeout != h.IdleGoAway {
		t.Errorf("verdict %q", rep.Verdict)
	}

	_, quiet, _ := faultservertest.OriginH2(t)
	rep, err = Origin(context.Background(), OriginOptions{URL: "http://" + quiet + "/", HTTP2: true, Connections: 1,
		MaxWait: 300 * time.Millisecond, MaxRequests: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.H2.IdleGoAway != nil || rep.H2.Conns[0].End != "never" || rep.H2.MaxStreamsSet {
		t.Errorf("a quiet origin: %+v", rep.H2)
	}
}
