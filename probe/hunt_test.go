package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
)

// A window's edge lies between the outermost failure and the gap past which enough requests
// succeeded: at the window's failure rate, cleanRun of them in a row.
func TestHuntEdges(t *testing.T) {
	h := &hunter{rep: &HuntReport{}}
	add := func(gapUs float64, class, fate string) {
		h.rep.Trials = append(h.rep.Trials, Trial{GapUs: gapUs, Class: class, Fate: fate})
	}
	if h.edges(true) != nil {
		t.Fatal("edges before any failure")
	}
	for _, g := range []float64{900, 950, 980, 990} {
		add(g, "ok", "reused")
	}
	add(1000, "502", "closed")
	add(1050, "502", "closed")
	add(995, "ok", "fresh") // the proxy's own new connection: says nothing about the window
	for _, g := range []float64{1060, 1070, 1100, 1200, 1300} {
		add(g, "ok", "closed")
	}
	if n := h.cleanRun(); n != 9 { // p = 0.3 before any sampling: log(0.05)/log(0.7) = 8.4
		t.Fatalf("cleanRun %d; want 9", n)
	}
	open, closing := h.edges(true), h.edges(false)
	// Fewer than 9 clean requests either side: the bracket reaches the farthest one.
	if open.LoUs != 900 || open.HiUs != 1000 || open.Open {
		t.Errorf("opening edge %+v; want 900..1000", open)
	}
	if closing.LoUs != 1050 || closing.HiUs != 1300 || closing.Open {
		t.Errorf("closing edge %+v; want 1050..1300", closing)
	}
	add(1400, "reset", "closed")
	if e := h.edges(false); !e.Open || e.AtUs != 1400 || !strings.Contains(e.String(), "not bounded") {
		t.Errorf("closing edge with no request past the last failure: %+v, %s", e, e)
	}
}

// IdleTimeout reads the origin's plan: one idle-close on every connection, without jitter.
func TestIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		spec, want string
	}{
		{"idle-close:timeout=50ms", "50ms"},
		{"idle-close:timeout=5s,probability=0.5", "only on some idle periods"},
		{"idle-close:timeout=5s,jitter=1s", "has jitter 1s"},
		{"cut-body:after-bytes=3", "no idle-close fault"},
	} {
		f, err := faultserver.ParseFaultSpec(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		cfg := faultserver.DefaultConfig()
		cfg.Faults = append(cfg.Faults, f)
		d, err := IdleTimeout(cfg)
		got := d.String()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q; want %q", tc.spec, got, tc.want)
		}
	}
}

// A proxy that closes the client connection after every answer cannot be hunted through: the
// hunt says so instead of reconnecting for ever.
func TestHuntRefusesClosingProxy(t *testing.T) {
	srv, _ := faultservertest.Origin(t, "idle-close:timeout=50ms")
	closing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("ok"))
	}))
	defer closing.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Hunt(ctx, HuntOptions{URL: closing.URL + "/", Origin: faultserver.Local(srv), Timeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "keep the client connection open") {
		t.Errorf("err %v; want the hunt to say the proxy must keep the connection open", err)
	}
}
