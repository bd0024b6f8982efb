package scenarios

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

// runBuiltin runs one variant of a built-in scenario against kind for d and returns its result.
func runBuiltin(t *testing.T, name, variant string, kind proxy.Kind, d time.Duration) (*Run, *results.Result) {
	t.Helper()
	e2e.Need(t, kind)
	sc, err := Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	run, err := sc.Run(context.Background(), RunOptions{Proxy: kind, Variants: []string{variant}, Duration: d, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 1 {
		t.Fatalf("%d results", len(run.Results))
	}
	return run, run.Results[0]
}

func origin(t *testing.T, r *results.Result) *results.OriginTruth {
	t.Helper()
	if r.Origin == nil {
		t.Fatal("the result has no origin ground truth")
	}
	return r.Origin
}

func counts(r *results.Result) string {
	var parts []string
	for _, c := range results.Classes() {
		if n := r.Count(c); n > 0 {
			parts = append(parts, c.String()+":"+results.FormatCount(n))
		}
	}
	return strings.Join(parts, " ")
}

func TestForcedRaceThroughTheEmbeddedProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		variant string
		check   func(t *testing.T, r *results.Result, st *results.OriginTruth)
	}{
		{"post", func(t *testing.T, r *results.Result, st *results.OriginTruth) {
			// Every reuse fails; Go's reverse proxy does not retry a POST: 502, one per fault.
			if r.Count(results.Status502) == 0 || uint64(r.Count(results.Status502)) != st.Faults["close-on-reuse"] {
				t.Fatalf("%s, origin faults %d: want one 502 per fault", counts(r), st.Faults["close-on-reuse"])
			}
			// The runner carries all of the origin's counters, not just faults: every fault
			// closed a connection from the origin's side.
			if st.Closes.ServerFIN+st.Closes.ServerRST < st.Faults["close-on-reuse"] || st.ConnectionsAccepted == 0 ||
				st.RequestsRead == 0 {
				t.Fatalf("origin ground truth incomplete: %+v", st)
			}
			if r.ProxyLog["EOF (upstream closed)"] != r.Count(results.Status502) {
				t.Fatalf("proxy log %v for %d 502s", r.ProxyLog, r.Count(results.Status502))
			}
		}},
		{"get", func(t *testing.T, r *results.Result, st *results.OriginTruth) {
			// GET is retried on a new connection: the client sees no error, the origin saw the
			// faults, and more requests than the client sent.
			if r.Errors() != 0 || st.Faults["close-on-reuse"] == 0 || st.RequestsStarted <= uint64(r.Requests) {
				t.Fatalf("%s, origin %d faults for %d requests from %d sent", counts(r), st.Faults["close-on-reuse"],
					st.RequestsStarted, r.Requests)
			}
		}},
		{"keepalive-off", func(t *testing.T, r *results.Result, st *results.OriginTruth) {
			if r.Errors() != 0 || st.FaultsTotal() != 0 || r.Requests < 10 {
				t.Fatalf("%s, %d faults", counts(r), st.FaultsTotal())
			}
		}},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			t.Parallel()
			run, r := runBuiltin(t, "forced-race", tc.variant, proxy.Embedded, time.Second)
			tc.check(t, r, origin(t, r))
			if !run.ThresholdsMet() {
				t.Fatalf("verdicts: %v", run.Verdicts)
			}
			// The run folder holds the result, the report and the proxy's log.
			for _, f := range []string{tc.variant + ".json", "report.md", "report.html", filepath.Join(tc.variant, "error.log")} {
				if _, err := os.Stat(filepath.Join(run.Dir, f)); err != nil {
					t.Fatalf("run folder lacks %s: %v", f, err)
				}
			}
			if _, err := results.ReadFile(filepath.Join(run.Dir, tc.variant+".json")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKeepaliveRaceEmbedded is the README's main claim: on a machine with only Go, the
// default variant shows 502s for POST within 30 s (the scenario runs 15 s per variant; about 9
// are expected) and the fixed variant shows none.
func TestKeepaliveRaceEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s")
	}
	t.Parallel()
	sc, err := Builtin("keepalive-race")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run, err := sc.Run(context.Background(), RunOptions{Proxy: proxy.Embedded, Duration: 10 * time.Second, OutDir: dir,
		Variants: []string{"default", "fixed"}})
	if err != nil {
		t.Fatal(err)
	}
	def, fixed := run.Results[0], run.Results[1]
	t.Logf("default: %s in %v", counts(def), def.Duration())
	if def.Count(results.Status502) == 0 {
		t.Fatalf("no 502 in %v of the keep-alive race: %s", def.Duration(), counts(def))
	}
	if fixed.Errors() != 0 || fixed.Requests < 100 {
		t.Fatalf("fixed: %s", counts(fixed))
	}
	// The proxy's 30 ms idle timer beats the origin's 50 ms one by 20 ms. On a loaded machine
	// (make test under -race, the e2e packages beside it) a timer can fire that late once or
	// twice; the pool still never reuses the connection (errors stay 0 above). Broken, the
	// origin would close nearly every connection: one per request.
	if f := origin(t, fixed).Faults["idle-close"]; f*50 > uint64(fixed.Requests) {
		t.Fatalf("the origin closed %d idle connections in %d requests: the proxy's shorter window should close them first", f, fixed.Requests)
	} else if f != 0 {
		t.Logf("the origin closed %d idle connection(s) before the proxy's late idle timer (loaded machine)", f)
	}
	// The errors sit at the origin's idle timeout (50 ms), the race drawn.
	g := def.Gaps
	if g == nil || g.Worst() < 0 {
		t.Fatalf("no idle-gap buckets with errors: %+v", g)
	}
	// The median gap of the errors, not the single worst bucket: with two dozen errors over 60
	// buckets, a bucket of 2 just below the timeout can tie with the spike and come first.
	var errs, seen int64
	for _, b := range g.Buckets {
		errs += b.Errors
	}
	median := time.Duration(-1)
	for i, b := range g.Buckets {
		if seen += b.Errors; median < 0 && 2*seen >= errs {
			median = g.Start(i)
		}
	}
	if median < 49*time.Millisecond || median > 52*time.Millisecond {
		t.Fatalf("median idle gap of the errors %v, want about the origin's 50 ms (worst bucket %s)", median, g.WorstLine())
	}
	// The plot's spike is as tall as the worst bucket's error rate: with a handful of errors
	// (a loaded machine met the race rarely: 4 in 195 once in CI) it is a few pixels, no
	// measure of the drawing.
	if n := def.Count(results.Status502); n < 10 {
		t.Logf("plot not checked: %d errors are too few to draw the spike", n)
		return
	}
	checkRaceWindowPlot(t, filepath.Join(dir, "report.html"))
}

// checkRaceWindowPlot reads a real run's report.html in a real headless Chromium: laid out at
// 1400 px it has its header, a green verdict box, nothing wider than the page and the
// origin's timeout in the race-window legend; the race-window plot alone shows the default
// variant's line (blue) rising far above the fixed one's (purple), which stays flat at zero,
// and the origin's timeout marked (black, dashed) among the errors.
func checkRaceWindowPlot(t *testing.T, report string) {
	t.Helper()
	l := e2e.LayOutReport(t, report, 1400)
	if l.H1 != "gatecrash: keepalive-race" || l.About["proxy"] != "embedded" || l.About["date"] == "" {
		t.Errorf("report header: %q %q", l.H1, l.About)
	}
	if l.VerdictText != "Thresholds met" || l.VerdictBorder != "rgb(44, 122, 44)" {
		t.Errorf("verdict box %q in %s", l.VerdictText, l.VerdictBorder)
	}
	if l.ScrollWidth > l.Viewport || l.Right > l.Viewport {
		t.Errorf("wider than the %v px page: %v px, %s reaches %v", l.Viewport, l.ScrollWidth, l.Widest, l.Right)
	}
	if legend := strings.Join(l.RaceLegend, " | "); !strings.Contains(legend, "origin idle timeout 50.00ms") {
		t.Errorf("race-window legend without the origin's timeout: %s", legend)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	start := strings.Index(page, `<div class="plot" id="race-window">`)
	if start < 0 {
		t.Fatal("report.html has no race-window plot")
	}
	end := strings.Index(page[start:], "</div></div>")
	if end < 0 {
		t.Fatal("race-window plot not closed")
	}
	// The plot alone, 1000 px wide, at the top of a page.
	only := filepath.Join(t.TempDir(), "race-window.html")
	plot := `<!doctype html><html><head><style>body{margin:0} svg{display:block;width:1000px;height:auto}</style></head><body>` +
		page[start:start+end+len("</div></div>")] + "</body></html>"
	if err := os.WriteFile(only, []byte(plot), 0o644); err != nil {
		t.Fatal(err)
	}
	img := e2e.Screenshot(t, only, 1000, 500)
	area := image.Rect(0, 0, 1000, 444) // the plot, above its legend
	blue := e2e.Pixels(img, area, e2e.Near(0x1f, 0x77, 0xb4))
	purple := e2e.Pixels(img, area, e2e.Near(0x94, 0x67, 0xbd))
	if len(blue) < 50 || len(purple) < 50 {
		t.Fatalf("race-window lines missing: %d blue, %d purple pixels", len(blue), len(purple))
	}
	topmost := func(ps []image.Point) image.Point {
		best := image.Point{Y: 1 << 30}
		for _, p := range ps {
			if p.Y < best.Y {
				best = p
			}
		}
		return best
	}
	spread := func(ps []image.Point) int {
		lo, hi := 1<<30, 0
		for _, p := range ps {
			lo, hi = min(lo, p.Y), max(hi, p.Y)
		}
		return hi - lo
	}
	// The spike is the worst bucket's rate: with a couple of dozen errors over 60 buckets it
	// is 25-60% (CI once drew it 92 px above the flat fixed line, on a 0-100% axis about 400 px
	// high); a flat default line would be within the 10 px the fixed line is allowed.
	spike := topmost(blue)
	if spike.Y > topmost(purple).Y-50 {
		t.Fatalf("no spike: the default line's top is at y=%d, the fixed line's at y=%d", spike.Y, topmost(purple).Y)
	}
	if spread(purple) > 10 {
		t.Fatalf("the fixed line is not flat: it spans %d px", spread(purple))
	}
	// The mark: a vertical black line right of the y axis (which is left of x=150).
	mark := e2e.VerticalLine(img, image.Rect(150, area.Min.Y, area.Max.X, area.Max.Y), 100, e2e.Black)
	// Where exactly the mark sits is TestRaceWindowMarksInChromium's to check (on a known
	// spike); a real run's errors spread over a millisecond or more around the timeout (the
	// client's gap is not the origin's idle time), so here the mark must lie where the
	// default line is above zero.
	zero := spike.Y
	for _, p := range blue {
		zero = max(zero, p.Y)
	}
	left, right := 1<<30, -1
	for _, p := range blue {
		if p.Y < zero-10 {
			left, right = min(left, p.X), max(right, p.X)
		}
	}
	if mark < left || mark > right {
		t.Fatalf("the origin's timeout is marked at x=%d, outside the errors (x=%d..%d)", mark, left, right)
	}
}

// TestProxiesUnderFaults checks what each real proxy turns a fault into (the table of
// docs/conformance.md, confirmed by running them).
func TestProxiesUnderFaults(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, r *results.Result)
	has := func(c results.Class) check {
		return func(t *testing.T, r *results.Result) {
			if r.Count(c) == 0 {
				t.Fatalf("no %s: %s", c, counts(r))
			}
		}
	}
	clean := func(t *testing.T, r *results.Result) {
		if r.Errors() != 0 || r.Requests == 0 {
			t.Fatalf("want no errors: %s", counts(r))
		}
	}
	// nearlyClean is clean but for one error in 50 at most: the Node gateway's idle timer runs
	// on its event loop, which a loaded two-core CI machine can hold past the fix's 20 ms
	// margin (seen: one 502 in 88 requests), as it would a production Node under load.
	nearlyClean := func(t *testing.T, r *results.Result) {
		if r.Requests == 0 || r.Errors() > 1 || r.Errors()*50 > r.Requests {
			t.Fatalf("want no errors but a stray timer's: %s", counts(r))
		}
	}
	logged := func(name string) check {
		return func(t *testing.T, r *results.Result) {
			if r.ProxyLog[name] == 0 {
				t.Fatalf("proxy log line %q not counted: %v", name, r.ProxyLog)
			}
		}
	}
	// absorbed: the origin injected faults and the client saw none (the proxy retried).
	absorbed := func(t *testing.T, r *results.Result) {
		clean(t, r)
		if r.Origin == nil || r.Origin.Faults["close-on-reuse"] == 0 {
			t.Fatalf("no faults injected at the origin: %+v", r.Origin)
		}
	}
	for _, tc := range []struct {
		kind              proxy.Kind
		scenario, variant string
		d                 time.Duration
		checks            []check
	}{
		// nginx: the POST keep-alive race is a 502 with its log line; the fix removes it.
		{proxy.Nginx, "keepalive-race", "default", 15 * time.Second, []check{has(results.Status502), logged("upstream prematurely closed connection")}},
		{proxy.Nginx, "keepalive-race", "fixed", 10 * time.Second, []check{clean}},
		{proxy.Nginx, "forced-race", "get", time.Second, []check{clean, logged("upstream prematurely closed connection")}},
		// chain: nginx as the load balancer in front of a Go ingress that drops idle
		// connections after 50 ms; its 60 s window races, a 30 ms one does not.
		{proxy.Nginx, "chain", "default", 15 * time.Second, []check{has(results.Status502), logged("hop1 upstream prematurely closed connection")}},
		{proxy.Nginx, "chain", "fixed", 10 * time.Second, []check{clean}},
		// nginx: a stalled TLS handshake to the origin is a 504 after proxy_connect_timeout.
		{proxy.Nginx, "tls-stall", "keepalive-off", 3 * time.Second, []check{has(results.Status504), logged("upstream timed out (110: Connection timed out)")}},
		// HAProxy (http-reuse safe): a failure on a reused server connection closes the
		// client connection with no response at all.
		{proxy.HAProxy, "forced-race", "post", time.Second, []check{has(results.NoResponse)}},
		{proxy.HAProxy, "forced-race", "get", time.Second, []check{has(results.NoResponse)}},
		{proxy.HAProxy, "forced-race", "keepalive-off", time.Second, []check{clean}},
		{proxy.HAProxy, "slow-upstream", "tight-timeout", 2 * time.Second, []check{has(results.Status504), logged("termination sH--")}},
		// Caddy retries GET, not POST.
		{proxy.Caddy, "forced-race", "post", time.Second, []check{has(results.Status502)}},
		{proxy.Caddy, "forced-race", "get", time.Second, []check{clean}},
		{proxy.Caddy, "forced-race", "keepalive-off", time.Second, []check{clean}},
		// Apache: the client connection is closed with no response, for GET too.
		{proxy.Apache, "forced-race", "post", time.Second, []check{has(results.NoResponse), logged("AH01102: error reading status line from remote server")}},
		{proxy.Apache, "forced-race", "get", time.Second, []check{has(results.NoResponse)}},
		{proxy.Apache, "forced-race", "keepalive-off", time.Second, []check{clean}},
		// Varnish: a POST on a reused backend connection is its 503 "Backend fetch failed";
		// a GET is retried once on a fresh connection (absorbed).
		{proxy.Varnish, "forced-race", "post", time.Second, []check{has(results.Status503), logged("FetchError HTC eof (-1)")}},
		{proxy.Varnish, "forced-race", "get", time.Second, []check{absorbed}},
		{proxy.Varnish, "forced-race", "keepalive-off", time.Second, []check{clean}},
		// Traffic Server retries GET, not POST; its 120 s idle window races the origin's.
		{proxy.TrafficServer, "forced-race", "post", time.Second, []check{has(results.Status502), logged("CONNECT: attempt fail [BAD_INCOMING_RESPONSE]")}},
		{proxy.TrafficServer, "forced-race", "get", time.Second, []check{absorbed}},
		{proxy.TrafficServer, "forced-race", "keepalive-off", time.Second, []check{clean}},
		{proxy.TrafficServer, "keepalive-race", "default", 8 * time.Second, []check{has(results.Status502)}},
		// nghttpx retries neither GET nor POST; a 30 ms backend keep-alive fixes the race.
		{proxy.Nghttpx, "forced-race", "post", time.Second, []check{has(results.Status502), logged("access log: 502")}},
		{proxy.Nghttpx, "forced-race", "get", time.Second, []check{has(results.Status502)}},
		{proxy.Nghttpx, "keepalive-race", "default", 8 * time.Second, []check{has(results.Status502)}},
		{proxy.Nghttpx, "keepalive-race", "fixed", 5 * time.Second, []check{clean}},
		// The Node gateway (http.Agent keep-alive) retries nothing: "socket hang up".
		{proxy.NodeGateway, "forced-race", "post", time.Second, []check{has(results.Status502), logged("proxy error: ECONNRESET socket hang up")}},
		{proxy.NodeGateway, "forced-race", "get", time.Second, []check{has(results.Status502)}},
		{proxy.NodeGateway, "forced-race", "keepalive-off", time.Second, []check{clean}},
		{proxy.NodeGateway, "keepalive-race", "default", 8 * time.Second, []check{has(results.Status502)}},
		{proxy.NodeGateway, "keepalive-race", "fixed", 5 * time.Second, []check{nearlyClean}},
	} {
		t.Run(string(tc.kind)+"/"+tc.scenario+"/"+tc.variant, func(t *testing.T) {
			t.Parallel()
			_, r := runBuiltin(t, tc.scenario, tc.variant, tc.kind, tc.d)
			for _, c := range tc.checks {
				c(t, r)
			}
		})
	}
}

func TestChainOfEmbeddedProxies(t *testing.T) {
	if testing.Short() {
		t.Skip("15 s")
	}
	t.Parallel()
	for _, tc := range []struct {
		variant string
		errs    bool
	}{{"default", true}, {"fixed", false}} {
		t.Run(tc.variant, func(t *testing.T) {
			t.Parallel()
			run, r := runBuiltin(t, "chain", tc.variant, proxy.Embedded, 0)
			if (r.Count(results.Status502) > 0) != tc.errs || r.Errors() != r.Count(results.Status502) {
				t.Fatalf("%s: %s", tc.variant, counts(r))
			}
			// Both hops ran, each with its own folder and log lines.
			for _, hop := range []string{"hop1-embedded", "hop2-embedded"} {
				if _, err := os.Stat(filepath.Join(run.Dir, tc.variant, hop, "error.log")); err != nil {
					t.Fatalf("no log of %s: %v", hop, err)
				}
			}
			// The failures happen between the hops, not at the origin.
			if tc.errs && origin(t, r).FaultsTotal() != 0 {
				t.Fatalf("origin faults %d: the race is between proxy A and B", origin(t, r).FaultsTotal())
			}
		})
	}
}

func TestExternalProxyAndFixedOriginAddresses(t *testing.T) {
	t.Parallel()
	// The "user's" proxy: an embedded proxy started by hand, configured to reach two origin
	// addresses chosen in advance, as a staging proxy would be.
	a1, _ := proxy.FreeListenAddr()
	a2, _ := proxy.FreeListenAddr()
	listen, _ := proxy.FreeListenAddr()
	p, err := proxy.Start(context.Background(), proxy.Config{Spec: proxy.Spec{Kind: proxy.Embedded}, Origins: []string{a1, a2}, Listen: listen})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	sc, err := Parse([]byte(`
apiVersion: gatecrash/v1
name: staging
origin:
  listen: [`+a1+`, `+a2+`]
  faults: [{kind: status, code: 503, every: 2}]
proxy:
  kind: external
  address: `+listen+`
load:
  requests: 40
  connections: 2
expect:
  all:
    "503": 20
`), "staging.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run, err := sc.Run(context.Background(), RunOptions{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := run.Results[0]
	st := origin(t, r)
	if !run.ThresholdsMet() || r.Count(results.OK) != 20 || st.RequestsRead != 40 || st.ConnectionsAccepted < 2 {
		t.Fatalf("%s, origin read %d over %d connections; verdicts %v", counts(r), st.RequestsRead, st.ConnectionsAccepted, run.Verdicts)
	}

	_, err = Parse([]byte("apiVersion: gatecrash/v1\nname: x\norigin:\n  replicas: 3\n  listen: [127.0.0.1:1, nohost]\n"), "x.yaml")
	for _, want := range []string{"x.yaml:5:11: origin.listen has 2 addresses for 3 replicas", `"nohost" is not host:port`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err %v lacks %q", err, want)
		}
	}
}

// client-stale-pool: the errors of a naive client appear, shrink with validate-after and
// vanish with a checked client, every one of them stale (the client's pool, not the proxy).
func TestClientStalePool(t *testing.T) {
	t.Parallel()
	for _, kind := range []proxy.Kind{proxy.Embedded, proxy.Nginx} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e2e.Need(t, kind)
			sc, err := Builtin("client-stale-pool")
			if err != nil {
				t.Fatal(err)
			}
			run, err := sc.Run(context.Background(), RunOptions{Proxy: kind, Duration: 2 * time.Second, OutDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if !run.ThresholdsMet() || len(run.Results) != 3 {
				t.Fatalf("verdicts %v", run.Verdicts)
			}
			naive, validate, checked := run.Results[0], run.Results[1], run.Results[2]
			if !(naive.Errors() > validate.Errors() && validate.Errors() > 0 && checked.Errors() == 0) {
				t.Fatalf("errors naive %d, validate-after %d, checked %d: want them to shrink and vanish",
					naive.Errors(), validate.Errors(), checked.Errors())
			}
			for _, r := range []*results.Result{naive, validate} {
				if o := r.Outcomes[results.NoResponse]; o == nil || o.Stale != r.Errors() {
					t.Fatalf("%s: %s; want every error a stale no-response", r.Variant, counts(r))
				}
			}
			if checked.Connections.StaleDiscarded < checked.Requests/2 || validate.Connections.StaleDiscarded == 0 {
				t.Fatalf("discarded: checked %d of %d requests, validate-after %d", checked.Connections.StaleDiscarded,
					checked.Requests, validate.Connections.StaleDiscarded)
			}
		})
	}
}

// A variable the chosen kind does not read is said at start, not silently dropped; a user's
// own template reads what it likes.
func TestIgnoredVars(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"max_idle_conns": "16", "idle_timeout": "60s", "http_reuse": "safe"}
	if got := ignoredVars(proxy.Spec{Kind: proxy.Nginx, Vars: vars}); !slices.Equal(got, []string{"http_reuse", "max_idle_conns"}) {
		t.Errorf("nginx: %v", got)
	}
	if got := ignoredVars(proxy.Spec{Kind: proxy.Embedded, Vars: vars}); !slices.Equal(got, []string{"http_reuse"}) {
		t.Errorf("embedded: %v", got)
	}
	if got := ignoredVars(proxy.Spec{Kind: proxy.Nginx, Template: "mine.tmpl", Vars: vars}); got != nil {
		t.Errorf("own template: %v", got)
	}
}

// TestH2GoAwayRaceEmbedded: HTTP/2's idle race through Go's own HTTP/2 client — the origin's
// GOAWAY after 50 ms idle crosses the proxy's next POST (502s), a GET is sent again (none),
// and the proxy's 30 ms idle window drops the connection before the GOAWAY (none, and the
// origin sends hardly any).
func TestH2GoAwayRaceEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("24 s")
	}
	t.Parallel()
	sc, err := Builtin("h2-goaway-race")
	if err != nil {
		t.Fatal(err)
	}
	run, err := sc.Run(context.Background(), RunOptions{Proxy: proxy.Embedded, Duration: 8 * time.Second, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	def, get, fixed := run.Results[0], run.Results[1], run.Results[2]
	if def.Count(results.Status502) == 0 || origin(t, def).Faults["goaway-idle"] == 0 {
		t.Fatalf("default: %s, %d GOAWAYs", counts(def), origin(t, def).Faults["goaway-idle"])
	}
	if get.Errors() != 0 || get.Requests < 100 || origin(t, get).Faults["goaway-idle"] == 0 {
		t.Fatalf("get: %s, %d GOAWAYs: the GET must meet the GOAWAYs and be sent again", counts(get), origin(t, get).Faults["goaway-idle"])
	}
	if fixed.Errors() != 0 || fixed.Requests < 100 || origin(t, fixed).Faults["goaway-idle"]*50 > uint64(fixed.Requests) {
		t.Fatalf("fixed: %s, %d GOAWAYs", counts(fixed), origin(t, fixed).Faults["goaway-idle"])
	}
}
