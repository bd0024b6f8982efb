//go:build unix

package probe

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
)

// tolerance is the ±50 ms the probe must measure an idle timeout within.
const tolerance = 50 * time.Millisecond

// runFolder is a run folder that the workers of a proxy running as root ("nobody") can read.
func runFolder(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gatecrash-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startServerAsOrigin runs a proxy binary (Apache) with a config that makes it an origin.
func startServerAsOrigin(t *testing.T, kind proxy.Kind, template string) string {
	t.Helper()
	e2e.Need(t, kind)
	listen, err := proxy.FreeListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	dir := runFolder(t)
	if err := os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, _ := filepath.Abs(filepath.Join("testdata", template))
	// The template stands in for the built-in one; the origin list is unused.
	p, err := proxy.Start(context.Background(), proxy.Config{Spec: proxy.Spec{Kind: kind, Template: tmpl},
		Origins: []string{"127.0.0.1:1"}, Listen: listen, RunDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p.URL()
}

func startApp(t *testing.T, kind proxy.AppKind, vars map[string]string) string {
	t.Helper()
	e2e.Need(t, kind)
	listen, err := proxy.FreeListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	app, err := proxy.StartApp(context.Background(), proxy.AppConfig{Kind: kind, Vars: vars, Listen: listen, RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Stop() })
	return app.URL()
}

// nodeBuffer is what Node adds to server.keepAliveTimeout before it closes an idle
// connection: server.keepAliveTimeoutBuffer where it exists (Node 24.6+), before that a fixed
// 1 s from Node 20 on (it announces "Keep-Alive: timeout=N" and keeps the socket a second
// longer, so that clients that trust the header do not race it).
func nodeBuffer(t *testing.T) time.Duration {
	out, err := exec.Command("node", "-e", `const s=require('http').createServer();
const major=Number(process.versions.node.split('.')[0]);
console.log(s.keepAliveTimeoutBuffer ?? (major >= 20 ? 1000 : 0))`).Output()
	if err != nil {
		t.Fatalf("asking node for its keep-alive buffer: %v", err)
	}
	ms, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("node's keep-alive buffer %q: %v", out, err)
	}
	return time.Duration(ms) * time.Millisecond
}

// probe origin measures each real server's idle timeout within ±50 ms — the earliest close,
// which is what a proxy in front must stay under.
func TestProbeOriginMeasuresRealServers(t *testing.T) {
	cases := []struct {
		name  string
		start func(t *testing.T) string
		want  func(t *testing.T) time.Duration
		// stagger spreads the connections over a server's timer tick (gunicorn's workers
		// look at idle connections once a second).
		conns   int
		stagger time.Duration
	}{
		{name: "nginx keepalive_timeout 2s", start: func(t *testing.T) string {
			return startApp(t, proxy.NginxOrigin, map[string]string{"idle_timeout": "2s"}) + "/"
		}, want: func(*testing.T) time.Duration { return 2 * time.Second }},
		{name: "nginx keepalive_timeout 1300ms", start: func(t *testing.T) string {
			return startApp(t, proxy.NginxOrigin, map[string]string{"idle_timeout": "1300ms"}) + "/"
		}, want: func(*testing.T) time.Duration { return 1300 * time.Millisecond }},
		{name: "apache KeepAliveTimeout 3", start: func(t *testing.T) string {
			return startServerAsOrigin(t, proxy.Apache, "apache-origin.conf.tmpl") + "/ok.txt"
		}, want: func(*testing.T) time.Duration { return 3 * time.Second }},
		{name: "uvicorn --timeout-keep-alive 1", start: func(t *testing.T) string {
			return startApp(t, proxy.Uvicorn, map[string]string{"idle_timeout": "1s"}) + "/"
		}, want: func(*testing.T) time.Duration { return time.Second }},
		{name: "gunicorn gthread --keep-alive 2", start: func(t *testing.T) string {
			return startApp(t, proxy.Gunicorn, map[string]string{"idle_timeout": "2s", "worker_class": "gthread"}) + "/"
		}, want: func(*testing.T) time.Duration { return 2 * time.Second }, conns: 24, stagger: 45 * time.Millisecond},
		{name: "node keepAliveTimeout 1500", start: func(t *testing.T) string {
			return startApp(t, proxy.Node, map[string]string{"idle_timeout": "1500ms"}) + "/"
		}, want: func(t *testing.T) time.Duration { return 1500*time.Millisecond + nodeBuffer(t) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := c.start(t)
			rep, err := Origin(context.Background(), OriginOptions{URL: url, MaxWait: 20 * time.Second, MaxRequests: 200,
				NoRace: true, Connections: c.conns, Stagger: c.stagger})
			if err != nil {
				t.Fatal(err)
			}
			want := c.want(t)
			if rep.IdleTimeout == nil {
				t.Fatalf("no idle close measured: %+v", rep.Conns)
			}
			if got := rep.IdleTimeout.Min; got < want-tolerance || got > want+tolerance {
				t.Errorf("idle timeout measured %v (all: %s); want %v ± %v", got, rep.IdleTimeout, want, tolerance)
			}
			if rep.CloseStyle != "fin" {
				t.Errorf("close style %q; want fin", rep.CloseStyle)
			}
			if !strings.Contains(rep.Verdict, "closes idle keep-alive connections after") {
				t.Errorf("verdict: %s", rep.Verdict)
			}
		})
	}
}

// gunicorn's sync workers close after every response: the probe says so instead of timing an
// idle close that never comes.
func TestProbeOriginSeesCloseAfterEveryResponse(t *testing.T) {
	url := startApp(t, proxy.Gunicorn, map[string]string{"worker_class": "sync"})
	rep, err := Origin(context.Background(), OriginOptions{URL: url + "/", MaxWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.ClosesAfterEachResponse || rep.IdleTimeout != nil {
		t.Fatalf("gunicorn sync: closes after each response %v, idle %v; want true, none", rep.ClosesAfterEachResponse, rep.IdleTimeout)
	}
	if !strings.Contains(rep.Verdict, "after every response") {
		t.Errorf("verdict: %s", rep.Verdict)
	}
}

// The race step: a request sent well before the close is answered, one sent after it is lost.
func TestProbeOriginRaceWindow(t *testing.T) {
	url := startApp(t, proxy.Uvicorn, map[string]string{"idle_timeout": "1s"})
	rep, err := Origin(context.Background(), OriginOptions{URL: url + "/", MaxWait: 10 * time.Second, MaxRequests: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Race) == 0 {
		t.Fatal("no race steps")
	}
	first, last := rep.Race[0], rep.Race[len(rep.Race)-1]
	if first.Before != 50*time.Millisecond || !first.Answered {
		t.Errorf("50 ms before the close: %+v; want answered", first)
	}
	if last.Before >= 0 || last.Answered {
		t.Errorf("after the close: %+v; want lost", last)
	}
}

// TestProbeOriginThroughTheRelay: with no idle-close fault the relay passes the app's own
// keep-alive close on as it happens, so probing the relay measures the app's idle timeout
// (uvicorn's 1 s), not the relay's (it has none). With an idle-close fault of 300 ms, the
// probe sees the fault's.
func TestProbeOriginThroughTheRelay(t *testing.T) {
	t.Parallel()
	appURL := startApp(t, proxy.Uvicorn, map[string]string{"idle_timeout": "1s"})
	for _, tc := range []struct {
		fault string
		want  time.Duration
	}{{"", time.Second}, {"idle-close:timeout=300ms", 300 * time.Millisecond}} {
		up, err := faultserver.ParseUpstream(appURL, faultserver.UpstreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := faultserver.DefaultConfig()
		if tc.fault != "" {
			f, err := faultserver.ParseFaultSpec(tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Faults = []faultserver.Fault{f}
		}
		relay, err := faultserver.New(cfg, faultserver.WithUpstream(up))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { relay.Serve(ctx, ln); close(done) }()
		rep, err := Origin(context.Background(), OriginOptions{URL: "http://" + ln.Addr().String() + "/", MaxWait: 10 * time.Second,
			MaxRequests: 50, NoRace: true, Connections: 4})
		cancel()
		<-done
		if err != nil {
			t.Fatal(err)
		}
		if rep.IdleTimeout == nil || rep.IdleTimeout.Min < tc.want-tolerance || rep.IdleTimeout.Min > tc.want+tolerance {
			t.Errorf("fault %q: idle timeout through the relay %v; want %v ± %v", tc.fault, rep.IdleTimeout, tc.want, tolerance)
		}
		st := relay.Stats()
		if tc.fault == "" && (st.Relay.AppClosedIdle == 0 || st.FaultsTotal() != 0) {
			t.Errorf("the app's own closes: relay %+v, faults %v", st.Relay, st.Faults)
		}
	}
}
