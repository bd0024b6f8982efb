package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Kind names a kind of proxy under test.
type Kind string

// Proxy kinds.
const (
	Embedded Kind = "embedded"
	Nginx    Kind = "nginx"
	HAProxy  Kind = "haproxy"
	Caddy    Kind = "caddy"
	Apache   Kind = "apache"
	Varnish  Kind = "varnish"
	// TrafficServer is Apache Traffic Server.
	TrafficServer Kind = "trafficserver"
	Nghttpx       Kind = "nghttpx"
	// NodeGateway is a reverse proxy on Node's http module with a keep-alive Agent, the setup
	// of Node-based API gateways (proxy/templates/gatecrash_gateway.js).
	NodeGateway Kind = "node"
	External    Kind = "external"
)

// Kinds lists every kind.
func Kinds() []Kind {
	return []Kind{Embedded, Nginx, HAProxy, Caddy, Apache, Varnish, TrafficServer, Nghttpx, NodeGateway, External}
}

// Started lists the kinds gatecrash starts itself: every kind but external.
func Started() []Kind { return slices.DeleteFunc(Kinds(), func(k Kind) bool { return k == External }) }

// StartedNames lists Started for messages: "embedded, nginx, ...".
func StartedNames() string { return kindList(Started()) }

// kindNames lists the kinds for messages.
func kindNames() string { return kindList(Kinds()) }

// ParseKind checks a kind name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w %q; allowed: %s", ErrUnknownKind, s, kindNames())
}

// Sentinel errors; test with errors.Is.
var (
	// ErrUnknownKind is a proxy kind that does not exist.
	ErrUnknownKind = errors.New("unknown proxy kind")
	// ErrBinaryNotFound means the proxy's binary is not installed (or not where it was said to be).
	ErrBinaryNotFound = errors.New("proxy binary not found")
	// ErrNotReady means the proxy did not start accepting connections.
	ErrNotReady = errors.New("proxy did not become ready")
)

// Spec is the proxy section of a scenario: which proxy, and its variables.
type Spec struct {
	Kind Kind `yaml:"kind"`
	// Binary is the path of the proxy executable (default: found on PATH or in /usr/sbin).
	Binary string `yaml:"binary,omitempty"`
	// Template is a Go text/template file to use instead of the built-in one for the kind.
	Template string `yaml:"template,omitempty"`
	// Vars are the template variables (see the README for the ones the built-in templates
	// use: idle_timeout, keepalive, connect_timeout, read_timeout, ...).
	Vars map[string]string `yaml:"vars,omitempty"`
	// Address is where an external proxy listens ("127.0.0.1:8080").
	Address string `yaml:"address,omitempty"`
}

// Config is everything Start needs.
type Config struct {
	Spec
	// Origins are the upstream addresses (host:port) the proxy forwards to.
	Origins []string
	// OriginTLS says the origins speak TLS.
	OriginTLS bool
	// Listen is the address the proxy listens on ("127.0.0.1:port").
	Listen string
	// RunDir receives the rendered config and the logs.
	RunDir string
	// ReadyTimeout bounds start-up (default 10s).
	ReadyTimeout time.Duration
	// Log receives a line when a proxy left running in RunDir by an earlier, killed
	// gatecrash is found and stopped. Nil discards.
	Log io.Writer
}

// Proxy is a running proxy under test.
type Proxy interface {
	// URL is the base URL clients send load to ("http://127.0.0.1:port").
	URL() string
	// Stop ends the proxy and everything it started; it is idempotent.
	Stop() error
	// LogCounts counts the kind's known upstream-error lines in its logs (call after Stop).
	LogCounts() (map[string]int64, error)
	// Wait blocks until the proxy ends on its own — then it returns an error saying how — or
	// until ctx ends or Stop is called (then it returns nil).
	Wait(ctx context.Context) error
}

// Start starts the proxy cfg describes and returns once it accepts connections.
func Start(ctx context.Context, cfg Config) (Proxy, error) {
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	if cfg.RunDir != "" {
		if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
			return nil, err
		}
	}
	if cfg.Template == "" && cfg.Kind != External {
		if err := CheckVars(nil, cfg.Vars); err != nil {
			return nil, err
		}
	}
	switch cfg.Kind {
	case Embedded, "":
		return startEmbedded(cfg)
	case External:
		if cfg.Address == "" {
			return nil, errors.New("proxy kind external needs proxy.address (where your proxy listens)")
		}
		return external{url: "http://" + cfg.Address}, nil
	}
	if def, ok := kinds[cfg.Kind]; ok {
		if err := CheckKindVars(cfg.Kind, cfg.Vars); err != nil && cfg.Template == "" {
			return nil, err
		}
		return startExec(ctx, cfg, def)
	}
	_, err := ParseKind(string(cfg.Kind))
	return nil, err
}

// external is a proxy the user runs; gatecrash neither starts nor stops it.
type external struct{ url string }

func (e external) URL() string                          { return e.url }
func (e external) Stop() error                          { return nil }
func (e external) LogCounts() (map[string]int64, error) { return nil, nil }

// Wait returns when ctx ends: gatecrash does not watch a proxy it did not start.
func (e external) Wait(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// pattern is a known upstream-error log line. When capture is set, the name of a match is
// name followed by the regexp's first group (for logs whose message is the useful part, like
// Varnish's FetchError records): each distinct message is counted on its own.
type pattern struct {
	name    string
	re      *regexp.Regexp
	capture bool
}

func lit(name, substr string) pattern {
	return pattern{name: name, re: regexp.MustCompile(regexp.QuoteMeta(substr))}
}

// countPatterns counts, over the given log files, the lines matching each pattern. Every
// pattern appears in the result, matched or not, so a zero is visible.
func countPatterns(files []string, pats []pattern) (map[string]int64, error) {
	out := make(map[string]int64, len(pats))
	for _, p := range pats {
		if !p.capture {
			out[p.name] = 0
		}
	}
	for _, path := range files {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			for _, p := range pats {
				if !p.capture {
					if p.re.MatchString(line) {
						out[p.name]++
					}
				} else if m := p.re.FindStringSubmatch(line); m != nil {
					out[p.name+strings.TrimSpace(m[1])]++
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return out, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	return out, nil
}

// varOr returns the value of vars[name], or def when it is unset or blank.
func varOr(vars map[string]string, name, def string) string {
	if v, ok := vars[name]; ok && strings.TrimSpace(v) != "" {
		return v
	}
	return def
}
