package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/internal/ctxwait"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/scenarios"
)

// ProxyOptions say how to probe a proxy's upstream side.
type ProxyOptions struct {
	// Upstream is where the probe's upstream (a fault server, no faults but the probe's own)
	// listens: the user's proxy must forward to it. Default 127.0.0.1:0 (with Kind set).
	Upstream string
	// URL is where the user's proxy listens ("http://127.0.0.1:8080"); give it or Kind.
	URL string
	// Kind is a built-in proxy to start in front of the upstream, with its template Vars.
	Kind proxy.Kind
	Vars map[string]string
	// Binary overrides the proxy binary (with Kind).
	Binary string
	// RunDir receives a started proxy's config and logs ("": a temp folder).
	RunDir string
	// Connections is how many requests are sent at once to make the proxy open (and then
	// pool) that many upstream connections (default 4).
	Connections int
	// MaxWait bounds the wait for the proxy to close its idle upstream connections (default
	// 10m).
	MaxWait time.Duration
	// Ready, when set, is called with the upstream's address once it listens, before any
	// request is sent (the CLI says where to point the proxy).
	Ready func(upstream string)
	Log   io.Writer
	// HTTP2: the upstream speaks HTTP/2 with prior knowledge (h2c) beside HTTP/1.1 and the
	// started proxy is configured for it (upstream_proto: h2c); the pooling and idle window are
	// those of the proxy's h2 connections, and the retry test is HTTP/2's race made certain: a
	// GOAWAY as the request's stream opens, naming the stream before it (not processed, so any
	// proxy may send it again).
	HTTP2 bool
}

// ProxyReport is what probing a proxy found.
type ProxyReport struct {
	Role     string `json:"role"` // "proxy"
	Proxy    string `json:"proxy"`
	Upstream string `json:"upstream"`
	// Concurrent is how many requests were sent at once; Opened how many upstream
	// connections the proxy opened for them; Pooled how many it kept open afterwards.
	Concurrent int `json:"concurrent"`
	Opened     int `json:"opened"`
	Pooled     int `json:"pooled"`
	// Protocol is what the proxy spoke to the upstream: "HTTP/1.1", "h2c", or both ("h2c and
	// HTTP/1.1"), from each connection's first bytes.
	Protocol string `json:"protocol,omitempty"`
	// HTTP2: probed with an h2c upstream (ProxyOptions.HTTP2); Retry is then the GOAWAY test.
	HTTP2 bool `json:"http2,omitempty"`
	// IdleSetting is the idle_timeout the started proxy was given ("" : its default, or a
	// proxy you run).
	IdleSetting string `json:"idle_setting,omitempty"`
	// Reuse says in which order pooled connections are reused: "LIFO", "FIFO", "new
	// connection per request", or what was seen.
	Reuse      string `json:"reuse,omitempty"`
	ReuseOrder []int  `json:"reuse_order,omitempty"`
	// IdleWindow spreads how long pooled connections sat idle before the proxy closed them;
	// nil when it closed none within MaxWait (Never).
	IdleWindow *Spread `json:"idle_window,omitempty"`
	Never      bool    `json:"never_closed,omitempty"`
	// ReusesStale, when Never: a request after MaxWait went on one of those old idle
	// connections (false: the proxy opened a new one, so it keeps them but will not reuse them).
	ReusesStale bool           `json:"reuses_stale,omitempty"`
	ClosedWith  string         `json:"closed_with,omitempty"` // fin, rst
	MaxWait     time.Duration  `json:"max_wait_ns"`
	Retry       []RetryOutcome `json:"retry,omitempty"`
	Verdict     string         `json:"verdict"`
}

// RetryOutcome is what the proxy did with a request whose pooled upstream connection was
// closed by the upstream as the request arrived (the keep-alive race, made certain).
type RetryOutcome struct {
	Method string `json:"method"`
	// Tested is false when the proxy did not send the request where the fault waited: on a
	// pooled connection (HTTP/1.1), as an upstream connection's second stream (HTTP/2).
	Tested bool `json:"tested"`
	// Attempts is how many times the request reached the upstream (over HTTP/2: streams
	// opened for it, the refused one too).
	Attempts int `json:"attempts"`
	// Client is what the client got: "200", "502", or the error.
	Client   string `json:"client"`
	Absorbed bool   `json:"absorbed"` // retried and answered: the client never knew
}

const (
	slowPath = "/gatecrash-probe/slow"
	// slowFault holds the answers to slowPath, so that concurrent requests need as many
	// upstream streams or connections at once.
	slowFault = "delay:head-delay=300ms,match=" + slowPath
	retryPath = "/gatecrash-probe/fail-on-reuse"
)

// Proxy probes a proxy's upstream side: pooling, reuse order, idle window, retries.
func Proxy(ctx context.Context, o ProxyOptions) (*ProxyReport, error) {
	if o.Connections == 0 {
		o.Connections = 4
	}
	if o.MaxWait == 0 {
		o.MaxWait = 10 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Upstream == "" {
		if o.Kind == "" {
			return nil, errors.New("probing a proxy you run needs the upstream address it forwards to (--upstream)")
		}
		o.Upstream = "127.0.0.1:0"
	}
	if (o.Kind == "") == (o.URL == "") {
		return nil, errors.New("give the proxy's URL (a proxy you run) or a kind to start, not both")
	}
	if o.HTTP2 && o.Kind != "" {
		if !proxy.Reads(o.Kind, "upstream_proto") {
			return nil, fmt.Errorf("HTTP/2: %s has no HTTP/2 upstreams in gatecrash (its template reads no upstream_proto); "+
				"allowed: the kinds whose template does (embedded, nginx, haproxy, caddy, apache, nghttpx, node)", o.Kind)
		}
		vars := maps.Clone(o.Vars)
		if vars == nil {
			vars = map[string]string{}
		}
		if _, set := vars["upstream_proto"]; !set {
			vars["upstream_proto"] = "h2c"
		}
		o.Vars = vars
	}
	specs := []string{"close-on-reuse:match=" + retryPath, slowFault}
	if o.HTTP2 {
		specs = specs[1:]
	}
	cfg, err := probeConfig(o.HTTP2, specs...)
	if err != nil {
		return nil, err
	}
	// The proxy in front of the fault server: one gatecrash starts from its kind, or the
	// user's own at o.URL (pointed at the upstream address).
	v := &scenarios.Variant{Origin: scenarios.Origin{Kind: scenarios.OriginFaultServer, Config: cfg, Replicas: 1,
		Listen: []string{o.Upstream}}, Proxy: proxy.Spec{Kind: o.Kind, Vars: o.Vars, Binary: o.Binary}}
	if o.Kind == "" {
		u, err := url.Parse(o.URL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("the proxy's URL %q: give http://HOST:PORT", o.URL)
		}
		v.Proxy = proxy.Spec{Kind: proxy.External, Address: u.Host}
	}
	dir := o.RunDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "gatecrash-probe-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	var obs *observer
	tb, err := scenarios.StartTestbed(ctx, v, dir, scenarios.TestbedOptions{Log: o.Log,
		OriginListener: func(ln net.Listener) net.Listener { obs = &observer{Listener: ln}; return obs }})
	if err != nil {
		return nil, err
	}
	defer tb.Stop()
	srv := tb.Origin()
	rep := &ProxyReport{Role: "proxy", Upstream: tb.OriginAddrs()[0], Concurrent: o.Connections, MaxWait: o.MaxWait, Proxy: o.URL,
		HTTP2: o.HTTP2}
	if o.Kind != "" {
		o.URL, rep.Proxy, rep.IdleSetting = tb.URL(), string(o.Kind), o.Vars["idle_timeout"]
	}
	if o.Ready != nil {
		o.Ready(rep.Upstream)
	}
	t, err := newTarget(o.URL, false)
	if err != nil {
		return rep, err
	}
	// The client keeps its connections to the proxy, as real clients and load balancers do
	// (HAProxy's default http-reuse safe shares idle server connections only within a client
	// connection), and never retries: what reaches the upstream twice was retried by the proxy.
	clients := make([]*conn, o.Connections)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
	}()
	get := func(i int, method, path string) (string, error) {
		if clients[i] == nil {
			c, err := t.dial(ctx)
			if err != nil {
				return "", err
			}
			clients[i] = c
		}
		resp, err := clients[i].roundTripPath(method, path)
		if err == nil && resp.Close {
			err = errors.New("the proxy closed the client connection")
		}
		if err != nil {
			clients[i].close()
			clients[i] = nil
			return "", err
		}
		return fmt.Sprint(resp.StatusCode), nil
	}

	// 1. Concurrent slow requests: the proxy needs that many upstream connections at once.
	fmt.Fprintf(o.Log, "sending %d requests at once through %s...\n", o.Connections, o.URL)
	var wg sync.WaitGroup
	statuses := make([]string, o.Connections)
	errs := make([]error, o.Connections)
	for i := range o.Connections {
		wg.Add(1)
		go func() { defer wg.Done(); statuses[i], errs[i] = get(i, http.MethodGet, slowPath) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("requests through the proxy at %s failed: %w", o.URL, err)
	}
	if i := slices.IndexFunc(statuses, func(s string) bool { return s != "200" }); i >= 0 {
		return rep, fmt.Errorf("the proxy at %s answered %v to the probe's requests (the upstream answers 200): "+
			"it could not reach the upstream at %s as configured; its log says why", o.URL, statuses, rep.Upstream)
	}
	opened := obs.snapshot()
	if len(opened) == 0 {
		return rep, fmt.Errorf("no request reached the upstream at %s (the proxy answered %v): point the proxy at it", rep.Upstream, statuses)
	}
	rep.Opened = len(opened)
	rep.Protocol = protocolOf(opened)
	ctxwait.Sleep(ctx, 200*time.Millisecond)
	pooledAt := time.Now()
	var pooled []connState
	for _, c := range obs.snapshot() {
		if c.closedAt.IsZero() {
			pooled = append(pooled, c)
		}
	}
	rep.Pooled = len(pooled)

	// 2. Reuse order: three requests one after another.
	if rep.Pooled >= 2 {
		fmt.Fprintf(o.Log, "%d idle upstream connections pooled; which does it reuse...\n", rep.Pooled)
		idle := map[int]bool{}
		for _, c := range pooled {
			idle[c.id] = true
		}
		for range 3 {
			before := obs.snapshot()
			if _, err := get(0, http.MethodGet, "/"); err != nil {
				return rep, err
			}
			rep.ReuseOrder = append(rep.ReuseOrder, servedBy(before, obs.snapshot()))
			ctxwait.Sleep(ctx, 20*time.Millisecond)
		}
		rep.Reuse = reuseKind(rep.ReuseOrder, idle)
	}

	// 3. The idle window: wait for the proxy to close what it pooled.
	if rep.Pooled > 0 {
		fmt.Fprintf(o.Log, "waiting for the proxy to close its idle upstream connections (up to %v)...\n", o.MaxWait)
		deadline := time.Now().Add(o.MaxWait)
		for ctx.Err() == nil && time.Now().Before(deadline) {
			open := 0
			for _, c := range obs.snapshot() {
				if c.closedAt.IsZero() {
					open++
				}
			}
			if open == 0 {
				break
			}
			ctxwait.Sleep(ctx, 5*time.Millisecond)
		}
		var idles []time.Duration
		styles := map[string]bool{}
		for _, c := range obs.snapshot() {
			// A connection closed within 20 ms of its response was not kept idle.
			if c.requests > 0 && c.closedAt.After(pooledAt) && c.closedBy != "upstream" && c.closedAt.Sub(c.lastWrite) >= 20*time.Millisecond {
				idles = append(idles, c.closedAt.Sub(c.lastWrite))
				styles[c.closedBy] = true
			}
		}
		rep.IdleWindow = spreadOf(idles)
		rep.Never = rep.IdleWindow == nil
		// The client's own connections sat idle as long: the proxy may have closed them.
		for i, c := range clients {
			if c != nil {
				c.close()
				clients[i] = nil
			}
		}
		if rep.Never {
			// Open, but would it reuse one that old? (Apache checks a pooled connection's age,
			// ttl, when it picks it; it does not close it by itself.)
			before := obs.snapshot()
			if _, err := get(0, http.MethodGet, "/"); err != nil {
				return rep, err
			}
			id := servedBy(before, obs.snapshot())
			rep.ReusesStale = slices.ContainsFunc(before, func(c connState) bool { return c.id == id && c.closedAt.IsZero() })
		}
		rep.ClosedWith = strings.Join(slices.Sorted(maps.Keys(styles)), " and ")
	}

	// 4. Retries: a pooled connection that the upstream closes as the request arrives.
	if rep.Pooled > 0 && o.HTTP2 {
		if err := h2Retries(ctx, o, srv, obs, get, rep); err != nil {
			return rep, err
		}
	} else if rep.Pooled > 0 {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			fmt.Fprintf(o.Log, "failing a %s on a pooled upstream connection...\n", m)
			if _, err := get(0, http.MethodGet, "/"); err != nil { // leaves one pooled
				return rep, err
			}
			rep.Retry = append(rep.Retry, tryRetry(srv, get, m, retryPath, "close-on-reuse"))
		}
	}
	rep.Verdict = rep.verdict()
	return rep, ctx.Err()
}

// tryRetry sends one request whose upstream side the fault kind is set to fail, and says what
// the proxy did: tested (the fault acted), how many times the request reached the upstream,
// what the client got.
func tryRetry(srv *faultserver.Server, get func(int, string, string) (string, error), method, path, kind string) RetryOutcome {
	before := srv.Stats()
	status, err := get(0, method, path)
	d := srv.Stats().Since(before)
	out := RetryOutcome{Method: method, Tested: d.Faults[kind] > 0, Attempts: int(d.RequestsStarted), Client: status}
	if err != nil {
		out.Client = "no response: " + lostHow(err)
	}
	out.Absorbed = out.Tested && out.Attempts > 1 && status == "200"
	return out
}

// probeConfig is the probe's upstream: answering normally but for the faults given.
func probeConfig(http2 bool, specs ...string) (*faultserver.Config, error) {
	cfg := faultserver.DefaultConfig()
	cfg.HTTP2 = http2
	for _, spec := range specs {
		f, err := faultserver.ParseFaultSpec(spec)
		if err != nil {
			return nil, err
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	off := false
	cfg.FaultHeader = &off
	return cfg, nil
}

// h2Retries is step 4 over HTTP/2: from now on the upstream sends GOAWAY as the second stream
// of each new connection opens, naming the first as the last it processed (goaway-race). For
// each method, the proxy's pooled upstream connections are ended, a GET opens a new one (its
// first stream), and the request under test is its second: not processed, and said so.
// Attempts over 1 mean the proxy sent it again (on a new connection, whose first stream it
// is). A test the proxy did not send as a second stream is tried once more.
func h2Retries(ctx context.Context, o ProxyOptions, srv *faultserver.Server, obs *observer, get func(int, string, string) (string, error),
	rep *ProxyReport) error {
	cfg, err := probeConfig(true, "goaway-race:stream=2,close-after=100ms", slowFault)
	if err != nil {
		return err
	}
	if err := srv.SetConfig(cfg); err != nil {
		return err
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		fmt.Fprintf(o.Log, "sending a %s as the second stream of an upstream h2 connection that gets GOAWAY as it opens...\n", m)
		var out RetryOutcome
		for try := 0; try < 2 && !out.Tested; try++ { // once more when the proxy did not send it as a 2nd stream
			// The connections the proxy still pools (from before the GOAWAY plan, or the last
			// test's) are ended, idle, as an upstream restart would: the GET opens a new one,
			// the request under test is its second stream.
			if obs.closeOpen() > 0 {
				ctxwait.Sleep(ctx, 200*time.Millisecond)
			}
			before := srv.Stats()
			if _, err := get(0, http.MethodGet, "/"); err != nil {
				return fmt.Errorf("the GET before the %s test: %w", m, err)
			}
			if srv.Stats().Since(before).Faults["goaway-race"] > 0 {
				out = RetryOutcome{Method: m, Client: "not tested: the GET before it met the GOAWAY"}
				continue
			}
			out = tryRetry(srv, get, m, "/", "goaway-race")
		}
		rep.Retry = append(rep.Retry, out)
	}
	return ctx.Err()
}

// protocolOf names what the proxy spoke on the connections it opened.
func protocolOf(conns []connState) string {
	var h2, h1 bool
	for _, c := range conns {
		switch c.proto {
		case "h2c":
			h2 = true
		case "HTTP/1.1":
			h1 = true
		}
	}
	switch {
	case h2 && h1:
		return "h2c and HTTP/1.1"
	case h2:
		return "h2c"
	case h1:
		return "HTTP/1.1"
	}
	return ""
}

// servedBy returns the id of the connection that served a request between two snapshots (a
// new connection's id when the proxy opened one); 0 when none did.
func servedBy(before, after []connState) int {
	for _, a := range after {
		i := slices.IndexFunc(before, func(b connState) bool { return b.id == a.id })
		if i < 0 && a.requests > 0 || i >= 0 && a.requests > before[i].requests {
			return a.id
		}
	}
	return 0
}

// reuseKind names the order. After the first of the requests, the connection it used is the
// most recently used one: the same connection again is LIFO, a different pooled one each
// time is FIFO (least recently used first).
func reuseKind(order []int, pooled map[int]bool) string {
	allPooled, allSame, allDiff := true, true, true
	seen := map[int]bool{}
	for _, id := range order {
		allPooled = allPooled && pooled[id]
		allSame = allSame && id == order[0]
		allDiff = allDiff && !seen[id]
		seen[id] = true
	}
	switch {
	case !slices.ContainsFunc(order, func(id int) bool { return pooled[id] }):
		return "new connection per request"
	case allPooled && allSame:
		return "LIFO (the most recently used connection first)"
	case allPooled && allDiff:
		return "FIFO (the least recently used connection first)"
	}
	return fmt.Sprintf("mixed (connections %v)", order)
}

func (r *ProxyReport) verdict() string {
	who := r.Proxy
	switch {
	case r.Pooled == 0:
		return fmt.Sprintf("%s does not keep idle upstream connections (it closed all %d after their responses): "+
			"no idle race at this hop, at the cost of a new upstream connection per request", who, r.Opened)
	case r.Never && !r.ReusesStale:
		return fmt.Sprintf("%s leaves idle upstream connections open for longer than %v but did not reuse one that "+
			"old (it checks their age when it picks one, like Apache's ttl): the race needs an upstream that closes "+
			"sooner than that age limit", who, r.MaxWait)
	case r.Never && r.idleSetBelowWait():
		return fmt.Sprintf("%s keeps idle upstream connections for longer than %v and still reuses them, though its "+
			"idle_timeout was %s: that setting does not reach these connections, so it cannot fix the race — any upstream "+
			"that closes idle connections sooner races it; raise the upstream's idle timeout above any gap, or use a proxy "+
			"that sends unprocessed requests again", who, r.MaxWait, r.IdleSetting)
	case r.Never:
		return fmt.Sprintf("%s keeps idle upstream connections for longer than %v and still reuses them: any upstream "+
			"that closes idle connections sooner races it — lower its idle window below the upstream's", who, r.MaxWait)
	}
	v := fmt.Sprintf("%s keeps up to %d idle upstream connections for %s, then closes them (%s): every upstream "+
		"behind it must keep idle connections longer than that", who, r.Pooled, r.IdleWindow, strings.ToUpper(r.ClosedWith))
	if r.HTTP2 && r.Protocol != "h2c" {
		v += fmt.Sprintf("; it spoke %s to the upstream, not h2c: configure it for HTTP/2 upstreams to probe those", or(r.Protocol, "nothing"))
	}
	meets, again, notAgain := "meets a closed pooled connection", "is retried", "is not retried"
	if r.HTTP2 {
		meets, again, notAgain = "opens a stream as the upstream's GOAWAY leaves it unprocessed", "is sent again", "is not sent again"
	}
	for _, rt := range r.Retry {
		switch {
		case !rt.Tested:
		case rt.Absorbed:
			v += fmt.Sprintf("; a %s that %s %s (absorbed)", rt.Method, meets, again)
		default:
			v += fmt.Sprintf("; a %s that %s %s: the client gets %s", rt.Method, meets, notAgain, rt.Client)
		}
	}
	return v
}

// idleSetBelowWait reports whether the started proxy's idle_timeout was set to close idle
// connections within MaxWait: then "never closed" means the setting does not reach them.
func (r *ProxyReport) idleSetBelowWait() bool {
	d, err := yamlconf.ParseDuration(r.IdleSetting)
	return err == nil && d > 0 && d < r.MaxWait
}

// WriteText prints the report for a person.
func (r *ProxyReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "proxy           %s\n", r.Proxy)
	fmt.Fprintf(w, "upstream        %s (the probe's)\n", r.Upstream)
	if r.HTTP2 {
		fmt.Fprintf(w, "protocol        %s to the upstream\n", or(r.Protocol, "nothing"))
	}
	fmt.Fprintf(w, "pooling         %d requests at once opened %d upstream connections; %d stayed open idle\n", r.Concurrent, r.Opened, r.Pooled)
	if r.Reuse != "" {
		fmt.Fprintf(w, "reuse order     %s\n", r.Reuse)
	}
	switch {
	case r.Pooled == 0:
	case r.Never && r.ReusesStale:
		fmt.Fprintf(w, "idle window     never closed within %v, and reused after that\n", r.MaxWait)
	case r.Never:
		fmt.Fprintf(w, "idle window     never closed within %v, but not reused after that (a new connection instead)\n", r.MaxWait)
	default:
		fmt.Fprintf(w, "idle window     %s, closed with %s\n", r.IdleWindow, strings.ToUpper(r.ClosedWith))
	}
	for _, rt := range r.Retry {
		switch {
		case !rt.Tested && r.HTTP2:
			fmt.Fprintf(w, "retry %-4s      not tested: it was not the second stream of an upstream connection (client: %s)\n", rt.Method, rt.Client)
		case !rt.Tested:
			fmt.Fprintf(w, "retry %-4s      not tested: the proxy did not send it on a pooled connection (client: %s)\n", rt.Method, rt.Client)
		case rt.Absorbed && r.HTTP2:
			fmt.Fprintf(w, "retry %-4s      sent again on a new connection after the GOAWAY (%d streams): the client got %s\n", rt.Method, rt.Attempts, rt.Client)
		case rt.Absorbed:
			fmt.Fprintf(w, "retry %-4s      retried on a new connection (%d attempts): the client got %s\n", rt.Method, rt.Attempts, rt.Client)
		case r.HTTP2:
			fmt.Fprintf(w, "retry %-4s      not sent again after the GOAWAY (%d %s): the client got %s\n", rt.Method, rt.Attempts,
				plural(rt.Attempts, "stream", "streams"), rt.Client)
		default:
			fmt.Fprintf(w, "retry %-4s      not retried (%d %s): the client got %s\n", rt.Method, rt.Attempts,
				plural(rt.Attempts, "attempt", "attempts"), rt.Client)
		}
	}
	fmt.Fprintf(w, "verdict         %s\n", r.Verdict)
}

// observer wraps the upstream's listener to time what happens on each connection.
type observer struct {
	net.Listener
	mu    sync.Mutex
	conns []*obsConn
}

type connState struct {
	id        int
	requests  int
	lastWrite time.Time
	closedAt  time.Time
	closedBy  string // fin, rst (the proxy's), upstream (the server's own)
	proto     string // "h2c" (it began with the HTTP/2 preface) or "HTTP/1.1"; "" before any byte
}

type obsConn struct {
	net.Conn
	o     *observer
	st    connState
	wrote bool // a response went out since the last request began
}

func (l *observer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	oc := &obsConn{Conn: c, o: l, st: connState{id: len(l.conns) + 1}, wrote: true}
	l.conns = append(l.conns, oc)
	return oc, nil
}

// closeOpen closes the upstream's connections still open and returns how many it closed.
func (l *observer) closeOpen() int {
	l.mu.Lock()
	var open []*obsConn
	for _, c := range l.conns {
		if c.st.closedAt.IsZero() {
			open = append(open, c)
		}
	}
	l.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
	return len(open)
}

func (l *observer) snapshot() []connState {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]connState, len(l.conns))
	for i, c := range l.conns {
		out[i] = c.st
	}
	return out
}

func (c *obsConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	now := time.Now()
	c.o.mu.Lock()
	defer c.o.mu.Unlock()
	if n > 0 && c.st.proto == "" {
		c.st.proto = "HTTP/1.1"
		if bytes.HasPrefix(b[:n], []byte("PRI ")) {
			c.st.proto = "h2c"
		}
	}
	if n > 0 && c.wrote {
		c.st.requests++
		c.wrote = false
	}
	if err != nil && c.st.closedAt.IsZero() {
		switch {
		case errors.Is(err, io.EOF):
			c.st.closedAt, c.st.closedBy = now, "fin"
		case errors.Is(err, syscall.ECONNRESET):
			c.st.closedAt, c.st.closedBy = now, "rst"
		}
	}
	return n, err
}

func (c *obsConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	now := time.Now()
	c.o.mu.Lock()
	c.st.lastWrite, c.wrote = now, true
	c.o.mu.Unlock()
	return n, err
}

func (c *obsConn) Close() error {
	c.o.mu.Lock()
	if c.st.closedAt.IsZero() {
		c.st.closedAt, c.st.closedBy = time.Now(), "upstream"
	}
	c.o.mu.Unlock()
	return c.Conn.Close()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
