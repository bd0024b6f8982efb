//go:build unix

package probe

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
)

// hunt runs a hunt through a proxy of kind over an origin that closes idle connections after
// timeout.
func hunt(t *testing.T, kind proxy.Kind, vars map[string]string, timeout, budget time.Duration) *HuntReport {
	t.Helper()
	e2e.Need(t, kind)
	srv, addr := faultservertest.Origin(t, fmt.Sprintf("idle-close:timeout=%s", timeout))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	p, err := proxy.Start(context.Background(), proxy.Config{Spec: proxy.Spec{Kind: kind, Vars: vars},
		Origins: []string{addr}, Listen: listen, RunDir: runFolder(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	var log strings.Builder
	rep, err := Hunt(context.Background(), HuntOptions{URL: p.URL() + "/", Origin: faultserver.Local(srv),
		OriginName: "in-process", Timeout: timeout, Budget: budget, Seed: 1, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var b strings.Builder
	rep.WriteText(&b)
	t.Logf("\n%s%s", log.String(), b.String())
	return rep
}

// The located window holds the gap at which the origin's close wins (the origin's timeout
// less the time a request takes to reach it through the proxy), the first error comes within
// the bisection, and every failure is a request that met the closed connection.
func checkRace(t *testing.T, rep *HuntReport, timeout time.Duration) {
	t.Helper()
	if rep.Opens == nil || rep.CloseEdge == nil || rep.Inside == nil {
		t.Fatalf("no window located: %s", rep.Verdict)
	}
	to := float64(timeout.Microseconds())
	// Below the timeout by the request's way to the origin; above it when the origin's timer
	// fires late — by 1.4 ms under the race detector with every package's tests running (CI).
	if e := rep.CloseEdge.AtUs; e > to+3000 || e < to-3000 {
		t.Errorf("the close wins from %.0f µs; want within 3 ms of the origin's %.0f µs", e, to)
	}
	if rep.CloseEdge.HiUs-rep.CloseEdge.LoUs > 50 {
		t.Errorf("close edge known to %.0f µs; want 50", rep.CloseEdge.HiUs-rep.CloseEdge.LoUs)
	}
	// The window holds the gap at which the origin's close wins (its timeout less the
	// request's way there, plus its timer's lateness), within 250 µs.
	if at := rep.CloseEdge.AtUs; rep.Opens.LoUs-250 > at || rep.Closes.HiUs+250 < at {
		t.Errorf("window %.0f–%.0f µs does not hold the origin's close at %.0f µs", rep.Opens.LoUs, rep.Closes.HiUs, at)
	}
	for _, tr := range rep.Trials {
		if tr.failed() && tr.Fate != "closed" {
			t.Errorf("a request at %.0f µs failed (%s) though the origin had not closed (%s)", tr.GapUs, tr.Class, tr.Fate)
		}
	}
	if rep.FirstError == nil {
		t.Error("no first error")
	}
}

func TestHuntEmbedded(t *testing.T) {
	t.Parallel()
	const timeout = 50 * time.Millisecond
	rep := hunt(t, proxy.Embedded, map[string]string{"idle_timeout": "60s"}, timeout, 20*time.Second)
	checkRace(t, rep, timeout)
}

func TestHuntNginx(t *testing.T) {
	t.Parallel()
	const timeout = 50 * time.Millisecond
	rep := hunt(t, proxy.Nginx, map[string]string{"idle_timeout": "60s"}, timeout, 20*time.Second)
	checkRace(t, rep, timeout)
}

// A proxy whose idle window is shorter than the origin's never meets a closed connection:
// the hunt says it is safe and sees no failure.
func TestHuntSafe(t *testing.T) {
	t.Parallel()
	rep := hunt(t, proxy.Embedded, map[string]string{"idle_timeout": "30ms"}, 50*time.Millisecond, 10*time.Second)
	if rep.ProxyDropsUs == 0 || rep.Opens != nil || !strings.HasPrefix(rep.Verdict, "safe") {
		t.Errorf("proxy drops %.0f µs, opens %v, verdict %q; want the proxy's own close found and no window", rep.ProxyDropsUs, rep.Opens, rep.Verdict)
	}
}
