package loadgen

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/internal/http1"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// Pattern names a pacing pattern.
type Pattern string

// Pacing patterns.
const (
	// Closed keeps Connections connections busy back to back (like wrk), with an optional
	// think time between a response and the next request.
	Closed Pattern = "closed"
	// Constant is an open-loop arrival rate; latency counts from each request's intended
	// start, so a slow target shows as latency, not as a silently lower rate.
	Constant Pattern = "constant"
	// Poisson is an open-loop Poisson process at Rate: gaps between request starts are
	// exponential (seeded by Seed), as independent users' requests arrive; latency counts
	// from each request's intended start, as for Constant.
	Poisson Pattern = "poisson"
	// Bursts sends BurstSize requests as fast as the connections allow, pauses BurstPause,
	// and repeats; the pause lets idle timeouts fire between bursts.
	Bursts Pattern = "bursts"
	// GapSweep makes each connection wait a gap between requests that sweeps across
	// GapCenter ± GapSpread in GapStep steps: the pattern that hits an idle-timeout race.
	GapSweep Pattern = "gap-sweep"
)

var patterns = []Pattern{Closed, Constant, Poisson, Bursts, GapSweep}

// Config is one load: what to send, how fast, and for how long. YAML keys and the flags of
// `gatecrash load` have the same names.
type Config struct {
	URL      string   `yaml:"url"`
	Method   string   `yaml:"method"`
	Headers  []string `yaml:"headers"` // "Name: value"
	BodySize int      `yaml:"body-size"`
	// Body is the request body when it is given (gatecrash load --body-file); BodySize is
	// then its length. Nil: BodySize bytes of 'x'.
	Body []byte `yaml:"-"`
	// Targets, when given (gatecrash load --targets), are the requests to send in turn
	// instead of one (URL is then the first one's, Method, BodySize and Body unused); the
	// result counts outcomes per target.
	Targets        []Request `yaml:"-"`
	ExpectContinue bool      `yaml:"expect-continue"`
	Insecure       bool      `yaml:"insecure"`
	Pattern        Pattern   `yaml:"pattern"`
	Connections    int       `yaml:"connections"`
	Rate           float64   `yaml:"rate"`
	// Seed seeds pattern poisson's arrival times (0: a random seed, which the result's notes
	// give, to replay the run).
	Seed       uint64            `yaml:"seed,omitempty"`
	ThinkTime  yamlconf.Duration `yaml:"think-time"`
	BurstSize  int               `yaml:"burst-size"`
	BurstPause yamlconf.Duration `yaml:"burst-pause"`
	GapCenter  yamlconf.Duration `yaml:"gap-center"`
	GapSpread  yamlconf.Duration `yaml:"gap-spread"`
	GapStep    yamlconf.Duration `yaml:"gap-step"`
	// GapClock (gap-sweep) starts each connection's n-th request n × GapCenter after the run's
	// start, plus a random offset within ± GapSpread (seeded by Seed), instead of a gap after
	// its previous response: the connections stay in step instead of drifting apart, so a proxy
	// that pools as many upstream connections reuses them all at once, each after about
	// GapCenter less the response time, whatever order its pool hands them out in. It is how
	// a race whose windows are seconds apart is met by many connections at once.
	GapClock       bool              `yaml:"gap-clock"`
	Duration       yamlconf.Duration `yaml:"duration"`
	Requests       int64             `yaml:"requests"`
	Timeout        yamlconf.Duration `yaml:"timeout"`
	ConnectTimeout yamlconf.Duration `yaml:"connect-timeout"`
	// IdleTimeout is the client's own keep-alive idle timeout: a pooled connection idle longer
	// is closed instead of reused (0: reuse however long it sat).
	IdleTimeout yamlconf.Duration `yaml:"idle-timeout"`
	// MaxRequestsPerConn closes a connection after that many requests (0: no limit).
	MaxRequestsPerConn int  `yaml:"max-requests-per-conn"`
	NoKeepAlive        bool `yaml:"no-keepalive"`
	// Client is the client model: how an idle connection is checked before it is reused —
	// "checked" (the default), "validate-after=DUR" or "naive". See ParseClientModel.
	Client string `yaml:"client"`
	// Grace is how long an interrupted run waits for in-flight requests.
	Grace yamlconf.Duration `yaml:"grace"`
	// HTTP2 speaks HTTP/2: h2c with prior knowledge to an http:// URL, h2 by ALPN to an
	// https:// one. Each of the Connections carries up to Streams requests at once.
	HTTP2 bool `yaml:"http2,omitempty"`
	// Streams is the requests in flight per HTTP/2 connection (default 1).
	Streams int `yaml:"streams,omitempty"`
}

// MaxStreams bounds Streams: Connections x Streams workers run.
const MaxStreams = 1000

// workers is how many requests may be in flight at once: one per connection, or with HTTP/2
// Streams per connection.
func (c *Config) workers() int {
	if c.HTTP2 {
		return c.Connections * max(1, c.Streams)
	}
	return c.Connections
}

// Defaults.
const (
	DefaultConnections    = 10
	DefaultDuration       = yamlconf.Duration(10 * time.Second)
	DefaultTimeout        = yamlconf.Duration(10 * time.Second)
	DefaultConnectTimeout = yamlconf.Duration(5 * time.Second)
	DefaultGrace          = yamlconf.Duration(5 * time.Second)
	DefaultBurstPause     = yamlconf.Duration(time.Second)
	// MaxBodySize bounds the request body, which is kept rendered in memory.
	MaxBodySize = 64 << 20
)

// SetDefaults fills zero fields.
func (c *Config) SetDefaults() {
	if c.Method == "" {
		c.Method = "GET"
	}
	if c.Pattern == "" {
		c.Pattern = Closed
	}
	if c.Connections == 0 {
		c.Connections = DefaultConnections
	}
	if c.Duration == 0 && c.Requests == 0 {
		c.Duration = DefaultDuration
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Client == "" {
		c.Client = string(Checked)
	}
	if c.Pattern == Bursts && c.BurstPause == 0 {
		c.BurstPause = DefaultBurstPause
	}
	if c.Pattern == GapSweep {
		if c.GapSpread == 0 {
			c.GapSpread = c.GapCenter / 20
		}
		if c.GapStep == 0 {
			c.GapStep = max(c.GapSpread/30, yamlconf.Duration(time.Microsecond))
		}
	}
}

// zeroIsDefault lists the settings (YAML keys and flag names) whose 0 means "the default"
// once decoded. Written out explicitly, a 0 there is a mistake (a duration of 0 would mean
// the default 10 s, a timeout of 0 no timeout at all): CheckWritten refuses it.
var zeroIsDefault = []string{"connections", "duration", "timeout", "connect-timeout", "grace"}

// CheckWritten checks a setting that was written out — a flag given on the command line, a
// key present in a scenario — by its name and its text. It is the one rule both use for a 0
// that would otherwise silently mean the default.
func CheckWritten(field, value string) error {
	v := strings.TrimSpace(value)
	if (v == "0" || v == "0s") && slices.Contains(zeroIsDefault, field) {
		return fieldErr(field, "0 is not allowed; leave it out for the default")
	}
	return nil
}

// FieldError is a problem with one field; Field is its YAML key and flag name.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// MinRate and MaxRate bound an open-loop rate: below one request in 1,000 s a schedule is no
// load at all, and far above what one machine can send (10 million/s) a schedule only falls
// behind; a NaN or infinite rate has no schedule.
const (
	MinRate = 0.001
	MaxRate = 1e7
)

// Validate reports every problem, joined; each is a *FieldError.
func (c *Config) Validate() error {
	var errs []error
	if _, err := parseTarget(c.URL); err != nil {
		errs = append(errs, err)
	}
	total := 0
	for _, r := range c.Targets {
		if _, err := parseTarget(r.URL); err != nil {
			errs = append(errs, fieldErr("targets", "line %d: %v", r.Line, err))
		}
		if !http1.IsToken(r.Method) {
			errs = append(errs, fieldErr("targets", "line %d: %q is not an HTTP method token", r.Line, r.Method))
		}
		if len(r.Body) > MaxBodySize {
			errs = append(errs, fieldErr("targets", "line %d: a body of %d bytes; allowed: up to %d", r.Line, len(r.Body), MaxBodySize))
		}
		total += len(r.Body)
	}
	if total > MaxTargetBodies {
		errs = append(errs, fieldErr("targets", "bodies of %d bytes together; allowed: up to %d", total, MaxTargetBodies))
	}
	if len(c.Targets) > MaxTargets {
		errs = append(errs, fieldErr("targets", "%d targets; allowed: up to %d", len(c.Targets), MaxTargets))
	}
	if !http1.IsToken(c.Method) {
		errs = append(errs, fieldErr("method", "%q is not an HTTP method token (e.g. GET, POST)", c.Method))
	}
	for _, h := range c.Headers {
		name, _, ok := strings.Cut(h, ":")
		if !ok || !http1.IsToken(strings.TrimSpace(name)) || strings.ContainsAny(h, "\r\n") {
			errs = append(errs, fieldErr("headers", "%q is not \"Name: value\"", h))
		}
	}
	if c.BodySize < 0 || c.BodySize > MaxBodySize {
		errs = append(errs, fieldErr("body-size", "%d is not allowed; allowed: 0 to %d", c.BodySize, MaxBodySize))
	}
	known := false
	for _, p := range patterns {
		known = known || p == c.Pattern
	}
	if !known {
		errs = append(errs, fieldErr("pattern", "%q is not a pattern; allowed: closed, constant, poisson, bursts, gap-sweep", c.Pattern))
	}
	if c.Connections < 1 || c.Connections > 100000 {
		errs = append(errs, fieldErr("connections", "%d is not allowed; allowed: 1 to 100000", c.Connections))
	}
	errs = append(errs, c.validateHTTP2()...)
	switch c.Pattern {
	case Constant, Poisson:
		if c.Rate == 0 {
			errs = append(errs, fieldErr("rate", "pattern %s needs a rate > 0 (requests per second)", c.Pattern))
		}
	case Bursts:
		if c.BurstSize < 1 {
			errs = append(errs, fieldErr("burst-size", "pattern bursts needs a burst size >= 1"))
		}
	case GapSweep:
		if c.GapCenter <= 0 {
			errs = append(errs, fieldErr("gap-center", "pattern gap-sweep needs the gap to sweep around, e.g. 5s (the upstream idle timeout)"))
		}
		if c.GapSpread > c.GapCenter {
			errs = append(errs, fieldErr("gap-spread", "%s is larger than gap-center %s", c.GapSpread, c.GapCenter))
		}
	default:
		if c.GapClock {
			errs = append(errs, fieldErr("gap-clock", "is for pattern gap-sweep, not %s", c.Pattern))
		}
	}
	switch {
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		errs = append(errs, fieldErr("rate", "%v is not a number of requests per second; allowed: %v to %v", c.Rate, MinRate, MaxRate))
	case c.Rate < 0:
		errs = append(errs, fieldErr("rate", "%v is not allowed; allowed: a rate > 0 (requests per second)", c.Rate))
	case c.Rate > 0 && (c.Rate < MinRate || c.Rate > MaxRate):
		errs = append(errs, fieldErr("rate", "%v is not allowed; allowed: %v to %v requests per second (split a higher rate over shards)",
			c.Rate, MinRate, MaxRate))
	case c.Rate > 0 && c.Pattern != Constant && c.Pattern != Poisson:
		errs = append(errs, fieldErr("rate", "only patterns constant and poisson take a rate"))
	}
	for _, d := range []struct {
		field string
		v     yamlconf.Duration
	}{{"duration", c.Duration}, {"timeout", c.Timeout}, {"connect-timeout", c.ConnectTimeout}, {"grace", c.Grace},
		{"think-time", c.ThinkTime}, {"burst-pause", c.BurstPause}, {"gap-center", c.GapCenter}, {"gap-spread", c.GapSpread},
		{"gap-step", c.GapStep}, {"idle-timeout", c.IdleTimeout}} {
		switch {
		case d.v >= 0:
		case slices.Contains(zeroIsDefault, d.field):
			errs = append(errs, fieldErr(d.field, "%s is negative; allowed: more than 0 (leave it out for the default)", d.v))
		default:
			errs = append(errs, fieldErr(d.field, "%s is negative; allowed: 0 or more", d.v))
		}
	}
	if c.Duration == 0 && c.Requests == 0 {
		errs = append(errs, fieldErr("duration", "give a duration or a request count"))
	}
	if c.Requests < 0 {
		errs = append(errs, fieldErr("requests", "%d is not allowed; allowed: 0 (no limit) or more", c.Requests))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fieldErr("timeout", "must be > 0"))
	}
	if _, err := ParseClientModel(c.Client); err != nil {
		errs = append(errs, err)
	}
	if c.MaxRequestsPerConn < 0 {
		errs = append(errs, fieldErr("max-requests-per-conn", "%d is not allowed; allowed: 0 (no limit) or more", c.MaxRequestsPerConn))
	}
	return errors.Join(errs...)
}

// target is a parsed URL.
type target struct {
	https bool
	addr  string // host:port to dial
	host  string // Host header
	path  string // request target
}

func parseTarget(raw string) (*target, error) {
	if raw == "" {
		return nil, fieldErr("url", "missing; give the proxy's URL, e.g. http://127.0.0.1:8080/")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fieldErr("url", "%q: %v", raw, err)
	}
	t := &target{}
	switch u.Scheme {
	case "http":
	case "https":
		t.https = true
	default:
		return nil, fieldErr("url", "%q: scheme %q is not supported; allowed: http, https", raw, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fieldErr("url", "%q has no host", raw)
	}
	if u.User != nil || u.Fragment != "" {
		return nil, fieldErr("url", "%q: user info and fragments are not supported", raw)
	}
	port := u.Port()
	if port == "" {
		port = map[bool]string{false: "80", true: "443"}[t.https]
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return nil, fieldErr("url", "%q: port %q is not 1 to 65535", raw, port)
	}
	t.addr = net.JoinHostPort(u.Hostname(), port)
	t.host = u.Host
	t.path = u.RequestURI()
	return t, nil
}

// validateHTTP2 checks the HTTP/2 settings and what HTTP/2 does not do here.
func (c *Config) validateHTTP2() []error {
	var errs []error
	if c.Streams < 0 || c.Streams > MaxStreams {
		errs = append(errs, fieldErr("streams", "%d is not allowed; allowed: 1 to %d", c.Streams, MaxStreams))
	}
	if !c.HTTP2 {
		if c.Streams > 1 {
			errs = append(errs, fieldErr("streams", "%d streams per connection need http2 (--http2); HTTP/1.1 sends one request at a time", c.Streams))
		}
		return errs
	}
	if c.Connections*max(1, c.Streams) > 100000 {
		errs = append(errs, fieldErr("streams", "%d connections x %d streams is more than 100000 requests in flight", c.Connections, c.Streams))
	}
	for _, no := range []struct {
		set   bool
		field string
	}{
		{c.ExpectContinue, "expect-continue"}, {c.NoKeepAlive, "no-keepalive"},
		{c.MaxRequestsPerConn > 0, "max-requests-per-conn"}, {c.Client != "" && c.Client != string(Checked), "client"},
		{c.Pattern == GapSweep && c.Streams > 1, "pattern"},
	} {
		if no.set {
			errs = append(errs, fieldErr(no.field, "not supported with http2 (the HTTP/2 client keeps each connection for its streams "+
				"until the server ends it; gap-sweep needs streams 1)"))
		}
	}
	return errs
}
