//go:build unix

package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
)

func probeProxy(t *testing.T, kind proxy.Kind, vars map[string]string, maxWait time.Duration) *ProxyReport {
	t.Helper()
	e2e.Need(t, kind)
	rep, err := Proxy(context.Background(), ProxyOptions{Kind: kind, Vars: vars, MaxWait: maxWait, RunDir: runFolder(t)})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteText(&b)
	t.Logf("\n%s", b.String())
	return rep
}

// nginx's upstream keepalive_timeout and Caddy's transport keepalive, set to a known value, are
// measured within ±100 ms from the upstream side.
func TestProbeProxyMeasuresIdleWindow(t *testing.T) {
	for _, kind := range []proxy.Kind{proxy.Nginx, proxy.Caddy, proxy.Embedded} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			want := 1500 * time.Millisecond
			rep := probeProxy(t, kind, map[string]string{"idle_timeout": "1500ms"}, 10*time.Second)
			if rep.Pooled == 0 || rep.IdleWindow == nil {
				t.Fatalf("pooled %d, idle window %v: the proxy should pool and close", rep.Pooled, rep.IdleWindow)
			}
			if got := rep.IdleWindow.Median; got < want-100*time.Millisecond || got > want+100*time.Millisecond {
				t.Errorf("idle window %s; want %v ± 100ms", rep.IdleWindow, want)
			}
			if !strings.HasPrefix(rep.Reuse, "LIFO") {
				t.Errorf("reuse order %q; nginx's keepalive cache and Go's transport reuse the most recent first", rep.Reuse)
			}
			// A POST meeting a closed pooled connection is not retried by any of them.
			post := rep.Retry[1]
			if !post.Tested || post.Attempts != 1 || post.Absorbed {
				t.Errorf("POST: %+v; want tested, one attempt, not absorbed", post)
			}
		})
	}
}

// nginx retries a GET whose pooled connection failed (on a new connection); that is why a
// GET-only load test never shows the race.
func TestProbeProxyNginxRetriesGET(t *testing.T) {
	rep := probeProxy(t, proxy.Nginx, map[string]string{"idle_timeout": "1s"}, 5*time.Second)
	get := rep.Retry[0]
	if !get.Tested || !get.Absorbed || get.Attempts != 2 || get.Client != "200" {
		t.Errorf("GET: %+v; want retried once and answered 200", get)
	}
}

// HAProxy and Apache, as they behave with the built-in templates: reported, and pinned here so
// that a change of behaviour (or of the probe) is seen.
func TestProbeProxyHAProxyAndApacheAsObserved(t *testing.T) {
	t.Run("haproxy", func(t *testing.T) {
		t.Parallel()
		rep := probeProxy(t, proxy.HAProxy, map[string]string{"idle_timeout": "1s"}, 15*time.Second)
		if rep.Pooled == 0 {
			t.Fatal("HAProxy kept no idle server connection")
		}
		// pool-purge-delay closes idle server connections over a few periods, with RST.
		if rep.IdleWindow == nil || rep.ClosedWith != "rst" {
			t.Errorf("idle window %v closed with %q; want closed, with RST", rep.IdleWindow, rep.ClosedWith)
		}
		for _, r := range rep.Retry {
			if !r.Tested || r.Absorbed {
				t.Errorf("%s: %+v; want tested and not absorbed", r.Method, r)
			}
		}
	})
	t.Run("apache", func(t *testing.T) {
		t.Parallel()
		rep := probeProxy(t, proxy.Apache, map[string]string{"idle_timeout": "1s"}, 3*time.Second)
		if rep.Pooled == 0 {
			t.Fatal("Apache kept no idle backend connection")
		}
		// ttl is checked when a connection is picked; Apache does not close idle ones itself.
		if !rep.Never || rep.ReusesStale {
			t.Errorf("never closed %v, reused a stale one %v; want true, false", rep.Never, rep.ReusesStale)
		}
		for _, r := range rep.Retry {
			if !r.Tested || r.Absorbed {
				t.Errorf("%s: %+v; want tested and not absorbed", r.Method, r)
			}
		}
	})
}

// A proxy the user runs (no kind: its URL and the upstream address it forwards to) is probed
// the same way: here the embedded proxy, started by the test and pointed at a fixed address.
func TestProbeProxyYouRun(t *testing.T) {
	t.Parallel()
	upstream, err := proxy.FreeListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	listen, err := proxy.FreeListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.Start(context.Background(), proxy.Config{Spec: proxy.Spec{Kind: proxy.Embedded, Vars: map[string]string{"idle_timeout": "700ms"}},
		Origins: []string{upstream}, Listen: listen, RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	var ready string
	rep, err := Proxy(context.Background(), ProxyOptions{URL: p.URL(), Upstream: upstream, MaxWait: 5 * time.Second, RunDir: runFolder(t),
		Ready: func(addr string) { ready = addr }})
	if err != nil {
		t.Fatal(err)
	}
	if ready != upstream || rep.Upstream != upstream || rep.Proxy != p.URL() {
		t.Errorf("ready at %q, upstream %q, proxy %q; want the upstream %s and the proxy's URL", ready, rep.Upstream, rep.Proxy, upstream)
	}
	if rep.Pooled == 0 || rep.IdleWindow == nil || rep.IdleWindow.Median < 600*time.Millisecond || rep.IdleWindow.Median > 800*time.Millisecond {
		t.Errorf("pooled %d, idle window %v; want the proxy's 700ms", rep.Pooled, rep.IdleWindow)
	}
	if _, err := Proxy(context.Background(), ProxyOptions{URL: "127.0.0.1:1", Upstream: upstream}); err == nil || !strings.Contains(err.Error(), "http://HOST:PORT") {
		t.Errorf("a URL without a scheme: %v", err)
	}
}

// probe proxy --http2: each proxy speaks h2c to the upstream, and what it does with a stream
// the upstream's GOAWAY left unprocessed is what the h2-goaway-race matrix rows show — Go's
// client (embedded, Caddy) and Apache send a GET again on a new connection and fail a POST
// (502), nginx's grpc module sends neither again (502), HAProxy and nghttpx close the client's
// connection (no response).
func TestProbeProxyHTTP2GoAway(t *testing.T) {
	cases := []struct {
		kind      proxy.Kind
		getResent bool
		lost      string // the client's outcome for what is not sent again
	}{
		{proxy.Embedded, true, "502"},
		{proxy.Caddy, true, "502"},
		{proxy.Nginx, false, "502"},
		{proxy.HAProxy, false, "no response"},
	}
	for _, c := range cases {
		t.Run(string(c.kind), func(t *testing.T) {
			t.Parallel()
			e2e.Need(t, c.kind)
			rep, err := Proxy(context.Background(), ProxyOptions{Kind: c.kind, HTTP2: true, MaxWait: 3 * time.Second,
				Vars: map[string]string{"idle_timeout": "1s"}, RunDir: runFolder(t)})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.WriteText(&b)
			t.Logf("\n%s", b.String())
			if rep.Protocol != "h2c" || rep.Pooled == 0 || len(rep.Retry) != 2 {
				t.Fatalf("protocol %q, pooled %d, %d retry tests; want h2c, pooled, 2", rep.Protocol, rep.Pooled, len(rep.Retry))
			}
			get, post := rep.Retry[0], rep.Retry[1]
			if !get.Tested || !post.Tested {
				t.Fatalf("GET %+v, POST %+v: both should meet the GOAWAY", get, post)
			}
			if c.getResent != get.Absorbed || c.getResent && (get.Attempts != 2 || get.Client != "200") {
				t.Errorf("GET %+v; sent again: want %v", get, c.getResent)
			}
			if !c.getResent && !strings.HasPrefix(get.Client, c.lost) {
				t.Errorf("GET client %q; want %s", get.Client, c.lost)
			}
			if post.Absorbed || post.Attempts != 1 || !strings.HasPrefix(post.Client, c.lost) {
				t.Errorf("POST %+v; want one stream, not sent again, the client %s", post, c.lost)
			}
		})
	}
}

// --http2 with a kind whose template has no h2 upstream is refused, naming the kinds that do.
func TestProbeProxyHTTP2RefusesKindWithoutH2(t *testing.T) {
	_, err := Proxy(context.Background(), ProxyOptions{Kind: proxy.Varnish, HTTP2: true, MaxWait: time.Second})
	if err == nil || !strings.Contains(err.Error(), "no HTTP/2 upstreams") || !strings.Contains(err.Error(), "haproxy") {
		t.Fatalf("err %v", err)
	}
}
