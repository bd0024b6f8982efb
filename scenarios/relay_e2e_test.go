//go:build linux

package scenarios

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

// relayBed is a real app behind the relay behind a real proxy.
type relayBed struct {
	app    proxy.Proxy
	relay  *faultserver.Server
	proxy  proxy.Proxy
	appURL string
}

func startRelayBed(t *testing.T, app proxy.AppKind, kind proxy.Kind) *relayBed {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	listen, err := proxy.FreeListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	b := &relayBed{}
	b.app, err = proxy.StartApp(ctx, proxy.AppConfig{Kind: app, Listen: listen, RunDir: filepath.Join(dir, "app"),
		Vars: map[string]string{"idle_timeout": "5s"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.app.Stop() })
	b.appURL = b.app.URL()
	up, err := faultserver.ParseUpstream(b.appURL, faultserver.UpstreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.relay, err = faultserver.New(nil, faultserver.WithUpstream(up)); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- b.relay.Serve(sctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("relay: %v", err)
		}
	})
	plisten, err := proxy.FreeListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	b.proxy, err = proxy.Start(ctx, proxy.Config{Spec: proxy.Spec{Kind: kind, Vars: map[string]string{"idle_timeout": "2s"}},
		Origins: []string{ln.Addr().String()}, Listen: plisten, RunDir: filepath.Join(dir, "proxy")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.proxy.Stop() })
	return b
}

// load drives n requests through the proxy and returns the result.
func (b *relayBed) load(t *testing.T, method string, n int64, conns int) *results.Result {
	t.Helper()
	cfg := loadgen.Config{URL: b.proxy.URL() + "/", Method: method, Requests: n, Connections: conns}
	if method == "POST" {
		cfg.BodySize = 64
	}
	r, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// appConnections counts the established TCP connections the app's port has (the app's own
// view of how many connections it holds), from /proc/net/tcp.
func appConnections(t *testing.T, appURL string) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(appURL, "http://"))
	p, _ := strconv.Atoi(port)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", p)
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 3 && strings.HasSuffix(fs[1], want) && fs[3] == "01" { // local address is the app's, ESTABLISHED
			n++
		}
	}
	return n
}

// TestRelayInFrontOfRealApps puts uvicorn, gunicorn and node behind the relay behind real
// nginx and HAProxy. With no fault the app's answers come through unchanged and 100k requests
// see no error; each fault kind gives the client the outcome it should, with every injected
// fault either seen by the client or absorbed by a retry of the proxy (which the relay sees
// as an extra request) — exactly; the relay's connections to the app agree with the app's
// own count; and an app killed mid-run shows as app errors, never as injected faults.
func TestRelayInFrontOfRealApps(t *testing.T) {
	for _, app := range proxy.AppKinds() {
		for _, kind := range []proxy.Kind{proxy.Nginx, proxy.HAProxy} {
			t.Run(string(app)+"/"+string(kind), func(t *testing.T) {
				e2e.Need(t, kind, app)
				b := startRelayBed(t, app, kind)

				// The app's answer, directly and through proxy and relay. (Not kept alive: the
				// direct connection would count among the app's below until its keep-alive
				// timeout — node's 5 s, about what 100k requests take.)
				direct := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
				get := func(url string) (string, string, [32]byte) {
					resp, err := direct.Get(url)
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						t.Fatal(err)
					}
					return resp.Status, resp.Header.Get("Content-Type"), sha256.Sum256(body)
				}
				ds, dt, dsum := get(b.appURL + "/")
				ps, pt, psum := get(b.proxy.URL() + "/")
				if ds != ps || dt != pt || dsum != psum {
					t.Fatalf("through %s and the relay: %s %q %x; the app directly: %s %q %x", kind, ps, pt, psum, ds, dt, dsum)
				}

				start := time.Now()
				clean := b.load(t, "GET", 100_000, 16)
				t.Logf("100k clean requests in %s", time.Since(start).Round(time.Millisecond))
				if clean.Requests != 100_000 || clean.Errors() != 0 {
					t.Fatalf("no faults: %d errors in %d requests: %s", clean.Errors(), clean.Requests, counts(clean))
				}
				st := b.relay.Stats()
				if st.FaultsTotal() != 0 || st.Relay.AppErrors.Total() != 0 {
					t.Fatalf("no faults: relay counted faults %v, app errors %+v", st.Faults, st.Relay.AppErrors)
				}
				if got, want := appConnections(t, b.appURL), int(st.Relay.ConnectionsOpen); got != want {
					t.Errorf("the app holds %d connections; the relay says %d are open to it", got, want)
				}
				if st.Relay.ConnectionsOpened != st.ConnectionsAccepted {
					t.Errorf("1:1 broken: %d downstream connections, %d to the app", st.ConnectionsAccepted, st.Relay.ConnectionsOpened)
				}

				for _, spec := range []string{"rst-headers:probability=0.05", "cut-body:probability=0.05,after-bytes=1",
					"no-response:probability=0.05", "status:probability=0.05,code=500", "fin-mid-request:probability=0.05,after-bytes=20"} {
					cfg := faultserver.DefaultConfig()
					f, err := faultserver.ParseFaultSpec(spec)
					if err != nil {
						t.Fatal(err)
					}
					cfg.Faults = []faultserver.Fault{f}
					if err := b.relay.SetConfig(cfg); err != nil {
						t.Fatal(err)
					}
					before := b.relay.Stats()
					r := b.load(t, "POST", 2_000, 8)
					d := b.relay.Stats().Since(before)
					injected := int64(d.FaultsTotal())
					retried := int64(d.RequestsStarted) - r.Requests
					t.Logf("%s: injected %d, client errors %d %v, retried by the proxy %d", spec, injected, r.Errors(), counts(r), retried)
					if injected == 0 || injected != r.Errors()+retried || d.Relay.AppErrors.Total() != 0 {
						t.Errorf("%s: injected %d, client saw %d errors (%v), proxy retried %d, app errors %+v; want injected = seen + retried",
							spec, injected, r.Errors(), counts(r), retried, d.Relay.AppErrors)
					}
				}

				// The app dies mid-run: app errors, not faults.
				if err := b.relay.SetConfig(faultserver.DefaultConfig()); err != nil {
					t.Fatal(err)
				}
				before := b.relay.Stats()
				time.AfterFunc(300*time.Millisecond, func() { b.app.Stop() })
				cfg := loadgen.Config{URL: b.proxy.URL() + "/", Method: "GET", Duration: 1e9, Connections: 4, Pattern: loadgen.Constant, Rate: 500}
				r, err := loadgen.Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				d := b.relay.Stats().Since(before)
				t.Logf("app killed: client %s; relay app errors %+v", counts(r), d.Relay.AppErrors)
				if r.Errors() == 0 || d.FaultsTotal() != 0 || d.Relay.AppErrors.Total() == 0 {
					t.Errorf("app killed: client errors %d (%v), faults %v, app errors %+v; want errors counted as the app's",
						r.Errors(), counts(r), d.Faults, d.Relay.AppErrors)
				}
			})
		}
	}
}
