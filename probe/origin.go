package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatecrash/gatecrash/internal/ctxwait"
	"github.com/gatecrash/gatecrash/internal/http1"
)

// OriginOptions say how to probe an origin.
type OriginOptions struct {
	// URL is the origin (http:// or https://), with the path to request.
	URL string
	// Connections is how many idle connections to watch (default 8). They start Stagger
	// apart (default 125 ms, so that 8 cover a second), so a server that checks its idle
	// connections on a coarse tick (gunicorn's workers look once a second) is seen at
	// different phases of that tick: the shortest idle time seen is then the server's own.
	Connections int
	Stagger     time.Duration
	// MaxWait is how long to wait for the origin to close an idle connection (default 10m).
	MaxWait time.Duration
	// Method is the request method (default GET).
	Method string
	// Insecure skips TLS certificate verification.
	Insecure bool
	// MaxRequests is how many requests to send on one connection looking for a request cap
	// (default 1000; negative: do not look).
	MaxRequests int
	// NoRace skips the race-window step (a request sent just before the measured close).
	NoRace bool
	// HTTP2 probes the origin over HTTP/2 (h2c with prior knowledge for http://, h2 by ALPN
	// for https://): its idle GOAWAY, stream cap and SETTINGS instead (no race step).
	HTTP2 bool
	// Log, when set, gets a line as each step starts.
	Log io.Writer
}

// OriginReport is what probing an origin found.
type OriginReport struct {
	Role string `json:"role"` // "origin"
	URL  string `json:"url"`
	// Server, Connection and KeepAlive are the headers the origin announced in its first
	// response.
	Server     string `json:"server,omitempty"`
	Connection string `json:"connection,omitempty"`
	KeepAlive  string `json:"keep_alive,omitempty"`
	// ClosesAfterEachResponse: the origin ends the connection after every response (no
	// keep-alive, so no idle race).
	ClosesAfterEachResponse bool `json:"closes_after_each_response,omitempty"`
	// Conns are the watched idle connections.
	Conns []IdleConn `json:"connections"`
	// IdleTimeout spreads the idle times of the connections the origin closed; nil when it
	// closed none within MaxWait.
	IdleTimeout *Spread       `json:"idle_timeout,omitempty"`
	MaxWait     time.Duration `json:"max_wait_ns"`
	// CloseStyle is "fin", "rst" or "fin and rst".
	CloseStyle string `json:"close_style,omitempty"`
	// RequestCap is the number of requests the origin answered on one connection before it
	// closed it (0: no cap within CapChecked requests; CapChecked 0: not looked for).
	RequestCap int `json:"request_cap,omitempty"`
	CapChecked int `json:"cap_checked,omitempty"`
	// Race are requests sent just before (Before > 0) or after (< 0) the origin's measured
	// close, each on its own idle connection: answered or lost.
	Race []RaceStep `json:"race,omitempty"`
	// H2 is what an HTTP/2 probe found (OriginOptions.HTTP2); IdleTimeout is then its idle
	// GOAWAY time, for probe chain.
	H2      *H2Report `json:"h2,omitempty"`
	Verdict string    `json:"verdict"`
}

// IdleConn is one watched connection: how long it sat idle after its response until the
// origin closed it, and how.
type IdleConn struct {
	Idle time.Duration `json:"idle_ns"`
	// Close is "fin", "rst", "never" (not within MaxWait) or "error: ...".
	Close string `json:"close"`
	// Unsolicited is what the origin sent on the idle connection before closing (a 408, say).
	Unsolicited string `json:"unsolicited,omitempty"`
}

// Spread summarizes durations.
type Spread struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median_ns"`
	Min    time.Duration `json:"min_ns"`
	Max    time.Duration `json:"max_ns"`
}

func spreadOf(ds []time.Duration) *Spread {
	if len(ds) == 0 {
		return nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &Spread{N: len(s), Median: m, Min: s[0], Max: s[len(s)-1]}
}

func (s *Spread) String() string {
	if s.Min == s.Max {
		return fmt.Sprintf("%s (%d of them)", secs(s.Median), s.N)
	}
	return fmt.Sprintf("%s (median of %d, spread %s to %s)", secs(s.Median), s.N, secs(s.Min), secs(s.Max))
}

// RaceStep is one request sent Before the measured close (negative: after it).
type RaceStep struct {
	Before   time.Duration `json:"before_ns"`
	Answered bool          `json:"answered"`
	// Outcome is "answered", or how it was lost ("connection closed (FIN) before a response").
	Outcome string `json:"outcome"`
}

// MaxStagger bounds OriginOptions.Stagger: the connections start within Connections x
// Stagger, and a probe is minutes long at most.
const MaxStagger = time.Minute

// check refuses options no probe can run with; every problem is named by its flag.
func (o *OriginOptions) check() error {
	var errs []error
	if !http1.IsToken(o.Method) {
		errs = append(errs, fmt.Errorf("--method: %q is not an HTTP method token (e.g. GET, POST)", o.Method))
	}
	if o.Stagger < 0 || o.Stagger > MaxStagger {
		errs = append(errs, fmt.Errorf("--stagger: %v is not allowed; allowed: 0 to %v", o.Stagger, MaxStagger))
	}
	if o.Connections < 0 || o.Connections > 1000 {
		errs = append(errs, fmt.Errorf("--connections: %d is not allowed; allowed: 1 to 1000", o.Connections))
	}
	return errors.Join(errs...)
}

// Origin probes an origin's idle keep-alive timeout, close style, request cap and race window.
func Origin(ctx context.Context, o OriginOptions) (*OriginReport, error) {
	if o.Connections == 0 {
		o.Connections = 8
	}
	if o.Stagger == 0 {
		o.Stagger = 125 * time.Millisecond
	}
	if o.MaxWait == 0 {
		o.MaxWait = 10 * time.Minute
	}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	if o.MaxRequests == 0 {
		o.MaxRequests = 1000
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	t, err := newTarget(o.URL, o.Insecure)
	if err != nil {
		return nil, err
	}
	rep := &OriginReport{Role: "origin", URL: o.URL, MaxWait: o.MaxWait}
	if o.HTTP2 {
		err := originH2(ctx, o, t, rep)
		rep.IdleTimeout = rep.H2.IdleGoAway
		rep.Verdict = rep.H2.verdict("the origin")
		return rep, err
	}

	// One request first: the headers, and whether it keeps connections at all.
	c, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.roundTrip(o.Method)
	c.close()
	if err != nil {
		return nil, fmt.Errorf("first request to %s: %w", o.URL, err)
	}
	rep.Server, rep.Connection, rep.KeepAlive = resp.Header.Get("Server"), resp.Header.Get("Connection"), resp.Header.Get("Keep-Alive")

	fmt.Fprintf(o.Log, "watching %d idle connections (up to %v)...\n", o.Connections, o.MaxWait)
	rep.Conns = make([]IdleConn, o.Connections)
	var wg sync.WaitGroup
	for i := range o.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !ctxwait.Sleep(ctx, time.Duration(i)*o.Stagger) {
				return
			}
			rep.Conns[i] = watchIdle(ctx, t, o.Method, o.MaxWait)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	var idles []time.Duration
	styles := map[string]bool{}
	after := 0
	for _, ic := range rep.Conns {
		switch ic.Close {
		case "fin", "rst":
			idles = append(idles, ic.Idle)
			styles[ic.Close] = true
		case "after response":
			after++
		}
	}
	if after == len(rep.Conns) {
		rep.ClosesAfterEachResponse = true
	}
	rep.IdleTimeout = spreadOf(idles)
	switch {
	case styles["fin"] && styles["rst"]:
		rep.CloseStyle = "fin and rst"
	case styles["fin"]:
		rep.CloseStyle = "fin"
	case styles["rst"]:
		rep.CloseStyle = "rst"
	}

	if o.MaxRequests > 0 && !rep.ClosesAfterEachResponse {
		fmt.Fprintf(o.Log, "looking for a request cap (up to %d requests on one connection)...\n", o.MaxRequests)
		rep.CapChecked = o.MaxRequests
		rep.RequestCap, err = requestCap(ctx, t, o.Method, o.MaxRequests)
		if err != nil {
			return rep, err
		}
	}
	if !o.NoRace && rep.IdleTimeout != nil {
		fmt.Fprintf(o.Log, "sending requests just before the close (%v)...\n", secs(rep.IdleTimeout.Min))
		rep.Race = raceSteps(ctx, t, o.Method, rep.IdleTimeout.Min)
	}
	rep.Verdict = rep.verdict()
	return rep, ctx.Err()
}

// watchIdle sends one request on a new connection and waits for the origin to close it.
func watchIdle(ctx context.Context, t *target, method string, maxWait time.Duration) IdleConn {
	c, err := t.dial(ctx)
	if err != nil {
		return IdleConn{Close: "error: " + err.Error()}
	}
	defer c.close()
	resp, err := c.roundTrip(method)
	if err != nil {
		return IdleConn{Close: "error: " + err.Error()}
	}
	done := time.Now()
	if resp.Close {
		// It said so; see that it does.
		return IdleConn{Close: "after response"}
	}
	return waitClose(ctx, c, done, maxWait)
}

// waitClose blocks until the origin ends c (FIN or RST), maxWait passes or ctx ends.
func waitClose(ctx context.Context, c *conn, since time.Time, maxWait time.Duration) IdleConn {
	stop := context.AfterFunc(ctx, func() { c.nc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	c.nc.SetReadDeadline(since.Add(maxWait))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.br.Read(buf)
		now := time.Now()
		if n > 0 && len(got) < 200 {
			got = append(got, buf[:n]...)
		}
		if err == nil {
			continue
		}
		ic := IdleConn{Idle: now.Sub(since)}
		if len(got) > 0 {
			line, _, _ := strings.Cut(string(got), "\n")
			ic.Unsolicited = strings.TrimSpace(line)
		}
		switch {
		case errors.Is(err, io.EOF):
			ic.Close = "fin"
		case errors.Is(err, syscall.ECONNRESET):
			ic.Close = "rst"
		case errors.Is(err, os.ErrDeadlineExceeded):
			ic.Close, ic.Idle = "never", maxWait
		default:
			ic.Close = "error: " + err.Error()
		}
		return ic
	}
}

// requestCap sends up to max requests on one connection and returns how many were answered
// before the origin closed it (0: it did not).
func requestCap(ctx context.Context, t *target, method string, max int) (int, error) {
	c, err := t.dial(ctx)
	if err != nil {
		return 0, err
	}
	defer c.close()
	for i := 1; i <= max; i++ {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		resp, err := c.roundTrip(method)
		if err != nil {
			return i - 1, nil // closed after i-1 answers without saying so
		}
		if resp.Close {
			return i, nil
		}
	}
	return 0, nil
}

// raceSteps sends one request on its own idle connection at each offset around the measured
// close, all at once, and says which were answered.
func raceSteps(ctx context.Context, t *target, method string, closeAt time.Duration) []RaceStep {
	offsets := []time.Duration{50 * time.Millisecond, 20 * time.Millisecond, 10 * time.Millisecond, 5 * time.Millisecond,
		2 * time.Millisecond, time.Millisecond, 500 * time.Microsecond, 0, -time.Millisecond, -5 * time.Millisecond}
	out := make([]RaceStep, 0, len(offsets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, off := range offsets {
		if off >= closeAt {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := RaceStep{Before: off}
			c, err := t.dial(ctx)
			if err != nil {
				st.Outcome = "error: " + err.Error()
			} else {
				defer c.close()
				if _, err := c.roundTrip(method); err != nil {
					st.Outcome = "error: " + err.Error()
				} else if ctxwait.Sleep(ctx, closeAt-off) {
					if _, err := c.roundTrip(method); err != nil {
						st.Outcome = "lost: " + lostHow(err)
					} else {
						st.Answered, st.Outcome = true, "answered"
					}
				}
			}
			mu.Lock()
			out = append(out, st)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b RaceStep) int { return int(b.Before - a.Before) })
	return out
}

func lostHow(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed (FIN) before a response"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset (RST)"
	case errors.Is(err, syscall.EPIPE):
		return "write failed (EPIPE): the connection was already closed"
	}
	return err.Error()
}

func (r *OriginReport) verdict() string {
	who := "the origin"
	if r.Server != "" {
		who = fmt.Sprintf("the origin (Server: %s)", r.Server)
	}
	switch {
	case r.ClosesAfterEachResponse:
		return who + " closes the connection after every response: no keep-alive, so no idle race (a proxy opens a new " +
			"connection per request; that costs a handshake each time, not errors)"
	case r.IdleTimeout == nil:
		return fmt.Sprintf("%s kept idle connections open for all of --max-wait (%v): no idle close seen; "+
			"a request cap or a restart may still close a connection under a proxy", who, r.MaxWait)
	}
	it := r.IdleTimeout
	v := fmt.Sprintf("%s closes idle keep-alive connections after %s with %s: anything that reuses connections to it "+
		"(a proxy's upstream pool, a client's keep-alive agent) must drop idle ones sooner, e.g. after %s",
		who, it, strings.ToUpper(r.CloseStyle), secs(SafeBelow(it.Min)))
	if a, ok := announcedTimeout(r.KeepAlive); ok && (a-it.Min > 500*time.Millisecond || it.Min-a > 500*time.Millisecond) {
		v += fmt.Sprintf("; it announces Keep-Alive: timeout=%d but closes after %s (trust the measurement)", int(a.Seconds()), secs(it.Min))
	}
	if r.RequestCap > 0 {
		v += fmt.Sprintf("; it also closes each connection after %d requests", r.RequestCap)
	}
	return v
}

// announcedTimeout reads timeout=N from a Keep-Alive header.
func announcedTimeout(h string) (time.Duration, bool) {
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, "timeout") {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
				return time.Duration(n) * time.Second, true
			}
		}
	}
	return 0, false
}

// SafeBelow suggests an idle window safely shorter than d: 80 % of it, rounded down to a
// round figure.
func SafeBelow(d time.Duration) time.Duration {
	s := d * 8 / 10
	for _, unit := range []time.Duration{time.Second, 100 * time.Millisecond, 10 * time.Millisecond, time.Millisecond} {
		if s >= 2*unit {
			return s.Truncate(unit)
		}
	}
	return s
}

// secs prints a duration as seconds with millisecond precision ("5.000 s").
func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

// target is where requests go.
type target struct {
	u    *url.URL
	addr string
	tls  *tls.Config
}

func newTarget(raw string, insecure bool) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL %q: the scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("URL %q has no host", raw)
	}
	t := &target{u: u, addr: u.Host}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		t.addr = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Scheme == "https" {
		t.tls = &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: insecure, NextProtos: []string{"http/1.1"}}
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return t, nil
}

// conn is one client connection to the target.
type conn struct {
	t  *target
	nc net.Conn
	br *bufio.Reader
}

func (t *target) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	if t.tls != nil {
		tc := tls.Client(nc, t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", t.addr, err)
		}
		nc = tc
	}
	return &conn{t: t, nc: nc, br: bufio.NewReader(nc)}, nil
}

func (c *conn) close() { c.nc.Close() }

// maxInterim bounds the interim (1xx) responses read before the final one.
const maxInterim = 16

// errNoAnswer marks a request the origin did not answer with a final response.
var errNoAnswer = errors.New("no final response")

// roundTrip sends one request for the target's path and reads the whole response.
func (c *conn) roundTrip(method string) (*http.Response, error) {
	return c.roundTripPath(method, c.t.u.RequestURI())
}

// roundTripPath sends one request for path and reads the whole response. It never retries.
func (c *conn) roundTripPath(method, path string) (*http.Response, error) {
	c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	framing := ""
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		framing = "Content-Length: 16\r\n\r\ngatecrash probe\n"
	} else {
		framing = "\r\n"
	}
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatecrash-probe\r\n%s", method, path, c.t.u.Host, framing)
	if _, err := io.WriteString(c.nc, req); err != nil {
		return nil, err
	}
	// Interim (1xx) responses are not the answer: read past them, a bounded number of times
	// (an origin that sends 100 Continue forever has not answered).
	var resp *http.Response
	for interim := 0; ; interim++ {
		r, err := http.ReadResponse(c.br, &http.Request{Method: method})
		if err != nil {
			return nil, err
		}
		if r.StatusCode >= 200 || r.StatusCode == http.StatusSwitchingProtocols {
			resp = r
			break
		}
		if interim >= maxInterim {
			return nil, fmt.Errorf("%w: more than %d interim responses (%s) and no final one", errNoAnswer, maxInterim, r.Status)
		}
	}
	_, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

// WriteText prints the report for a person.
func (r *OriginReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "origin          %s\n", r.URL)
	if r.Server != "" {
		fmt.Fprintf(w, "server          %s\n", r.Server)
	}
	if r.H2 != nil {
		r.H2.writeText(w)
		fmt.Fprintf(w, "verdict         %s\n", r.Verdict)
		return
	}
	fmt.Fprintf(w, "announced       Connection: %s  Keep-Alive: %s\n", orNone(r.Connection), orNone(r.KeepAlive))
	switch {
	case r.ClosesAfterEachResponse:
		fmt.Fprintf(w, "idle timeout    none: it closes after every response\n")
	case r.IdleTimeout == nil:
		fmt.Fprintf(w, "idle timeout    never closed within %v\n", r.MaxWait)
	default:
		fmt.Fprintf(w, "idle timeout    %s\n", r.IdleTimeout)
		fmt.Fprintf(w, "close style     %s\n", strings.ToUpper(r.CloseStyle))
	}
	for i, c := range r.Conns {
		extra := ""
		if c.Unsolicited != "" {
			extra = fmt.Sprintf(" (sent first: %q)", c.Unsolicited)
		}
		switch c.Close {
		case "fin", "rst":
			fmt.Fprintf(w, "  connection %d  closed after %s idle, %s%s\n", i+1, secs(c.Idle), strings.ToUpper(c.Close), extra)
		default:
			fmt.Fprintf(w, "  connection %d  %s%s\n", i+1, c.Close, extra)
		}
	}
	switch {
	case r.CapChecked == 0:
	case r.RequestCap == 0:
		fmt.Fprintf(w, "request cap     none within %d requests\n", r.CapChecked)
	default:
		fmt.Fprintf(w, "request cap     closes after %d requests on a connection\n", r.RequestCap)
	}
	if len(r.Race) > 0 {
		fmt.Fprintf(w, "race window     a request sent on an idle connection ... before the close:\n")
		for _, s := range r.Race {
			when := fmt.Sprintf("%v before", s.Before)
			if s.Before < 0 {
				when = fmt.Sprintf("%v after", -s.Before)
			} else if s.Before == 0 {
				when = "right at"
			}
			fmt.Fprintf(w, "  %-16s %s\n", when, s.Outcome)
		}
	}
	fmt.Fprintf(w, "verdict         %s\n", r.Verdict)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
