package faultserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// Config is everything the fault server does: its normal response, its limits and its fault
// plan. It is what `gatecrash serve --config` reads and what `PUT /faults` on the admin
// listener accepts. Build one with ParseConfig, ParseFaultSpec or by hand, then Validate.
type Config struct {
	// Seed seeds the random source of probability selectors and jitter, so a run can be
	// replayed. Each connection gets its own stream derived from the seed and its number.
	Seed uint64 `yaml:"seed"`
	// Response is the normal answer to a request that no fault takes.
	Response ResponseConfig `yaml:"response"`
	// Limits bound what a client may send and how long the server waits.
	Limits Limits `yaml:"limits"`
	// FaultHeader lets a request choose its fault with "X-Gatecrash-Fault: KIND;k=v". On by
	// default. Anyone who can reach the data port can then choose: HeaderLimits bound what
	// they may ask for.
	FaultHeader *bool `yaml:"fault-header,omitempty"`
	// HeaderLimits bound the faults a request header may choose.
	HeaderLimits HeaderLimits `yaml:"header-limits"`
	// HTTP2 serves HTTP/2 with prior knowledge (h2c) next to HTTP/1.1 on the same port, and h2
	// by ALPN on the TLS listener: a connection that opens with the HTTP/2 preface is served as
	// h2, with the h2 fault kinds (goaway-idle, goaway-after, goaway-race, rst-stream,
	// close-no-goaway, max-streams, ping-silence, window-stall) and delay and status. Off by
	// default.
	HTTP2 bool `yaml:"http2,omitempty"`
	// Faults is the fault plan, in priority order: in each phase the first fault whose selector
	// fires acts.
	Faults []Fault `yaml:"-"`
}

// ResponseConfig is the normal response.
type ResponseConfig struct {
	Status   int  `yaml:"status"`
	BodySize int  `yaml:"body-size"`
	Chunked  bool `yaml:"chunked"`
}

// Limits bound the client and the server's own waiting.
type Limits struct {
	// MaxHeaderBytes bounds a request head; a larger one gets 431.
	MaxHeaderBytes int `yaml:"max-header-bytes"`
	// HeaderTimeout bounds the time from a request's first byte to the end of its head
	// (slowloris); when it passes the server answers 408 and closes.
	HeaderTimeout yamlconf.Duration `yaml:"header-timeout"`
	// BodyTimeout bounds the time to read a request body.
	BodyTimeout yamlconf.Duration `yaml:"body-timeout"`
	// IdleTimeout is the server's own keep-alive timeout (0: none, like Go's net/http). An
	// idle-close fault overrides it for the idle periods it selects.
	IdleTimeout yamlconf.Duration `yaml:"idle-timeout"`
}

// HeaderLimits bound what a request may ask for with X-Gatecrash-Fault, so that a client of
// the data port cannot make the server send without end or hold connections for hours. The
// fault plan itself (config file, flags, PUT /faults) is not bounded by them.
type HeaderLimits struct {
	// MaxBodySize is the largest body a header-chosen fault may announce or send.
	MaxBodySize int64 `yaml:"max-body-size"`
	// MaxWait is the longest a header-chosen fault may wait or hold a connection.
	MaxWait yamlconf.Duration `yaml:"max-wait"`
}

// Defaults for Config fields left zero.
const (
	DefaultStatus         = 200
	DefaultBodySize       = 2
	DefaultMaxHeaderBytes = 16 << 10
	DefaultHeaderTimeout  = yamlconf.Duration(10e9)
	DefaultBodyTimeout    = yamlconf.Duration(60e9)
	// MaxBodySize bounds the normal response body; the server keeps it pre-rendered.
	MaxBodySize = 64 << 20
	// DefaultHeaderMaxBodySize and DefaultHeaderMaxWait are the default HeaderLimits.
	DefaultHeaderMaxBodySize = 1 << 20
	DefaultHeaderMaxWait     = yamlconf.Duration(60e9)
)

// DefaultConfig returns a config with no faults and every default filled in.
func DefaultConfig() *Config {
	c := &Config{}
	c.SetDefaults()
	return c
}

// SetDefaults fills in zero fields.
func (c *Config) SetDefaults() {
	if c.Response.Status == 0 {
		c.Response.Status = DefaultStatus
	}
	if c.Response.BodySize == 0 {
		c.Response.BodySize = DefaultBodySize
	}
	if c.Limits.MaxHeaderBytes == 0 {
		c.Limits.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.Limits.HeaderTimeout == 0 {
		c.Limits.HeaderTimeout = DefaultHeaderTimeout
	}
	if c.Limits.BodyTimeout == 0 {
		c.Limits.BodyTimeout = DefaultBodyTimeout
	}
	if c.FaultHeader == nil {
		on := true
		c.FaultHeader = &on
	}
	if c.HeaderLimits.MaxBodySize == 0 {
		c.HeaderLimits.MaxBodySize = DefaultHeaderMaxBodySize
	}
	if c.HeaderLimits.MaxWait == 0 {
		c.HeaderLimits.MaxWait = DefaultHeaderMaxWait
	}
}

// Validate reports every problem in c, joined. Faults are named by their position.
func (c *Config) Validate() error {
	errs := c.validateOwn()
	for i, f := range c.Faults {
		if err := errors.Join(validateFault(f), c.servesKind(f)); err != nil {
			errs = append(errs, fmt.Errorf("faults[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// servesKind says when f could never act on this server: an HTTP/2 kind (it acts on h2
// connections only) while the server speaks HTTP/1.1 alone — the fault would be listed, never
// injected, and every h2 client of the server answered in HTTP/1.1.
func (c *Config) servesKind(f Fault) error {
	if strings.HasPrefix(phaseOf(f), "h2") && !c.HTTP2 {
		return fmt.Errorf("%s acts on HTTP/2 connections only, and http2 is off: set http2: true (gatecrash serve --http2)", KindOf(f))
	}
	return nil
}

func (c *Config) validateOwn() []error {
	var errs []error
	if c.Response.Status < 200 || c.Response.Status > 599 {
		errs = append(errs, fmt.Errorf("response.status: %d is not allowed; allowed: 200 to 599", c.Response.Status))
	}
	if c.Response.BodySize < 0 || c.Response.BodySize > MaxBodySize {
		errs = append(errs, fmt.Errorf("response.body-size: %d is not allowed; allowed: 0 to %d", c.Response.BodySize, MaxBodySize))
	}
	if c.Limits.MaxHeaderBytes < 256 || c.Limits.MaxHeaderBytes > 1<<20 {
		errs = append(errs, fmt.Errorf("limits.max-header-bytes: %d is not allowed; allowed: 256 to 1048576", c.Limits.MaxHeaderBytes))
	}
	if c.HeaderLimits.MaxBodySize < 0 || c.HeaderLimits.MaxBodySize > MaxBodySize {
		errs = append(errs, fmt.Errorf("header-limits.max-body-size: %d is not allowed; allowed: 1 to %d", c.HeaderLimits.MaxBodySize, MaxBodySize))
	}
	return errs
}

func validateFault(f Fault) error {
	kind := KindOf(f)
	if kind == "" {
		return fmt.Errorf("%T is not a registered fault kind; allowed: %s", f, strings.Join(kindNames, ", "))
	}
	return errors.Join(f.Validate(), f.Sel().validate(kind, phaseOf(f)))
}

// rawConfig is Config as it appears in YAML, with the fault list still undecoded.
type rawConfig struct {
	Seed         uint64         `yaml:"seed"`
	Response     ResponseConfig `yaml:"response"`
	Limits       Limits         `yaml:"limits"`
	FaultHeader  *bool          `yaml:"fault-header"`
	HeaderLimits HeaderLimits   `yaml:"header-limits"`
	HTTP2        bool           `yaml:"http2"`
	Faults       []yaml.Node    `yaml:"faults"`
}

// LoadConfig reads and validates a config file. Errors name the file and the line.
func LoadConfig(path string) (*Config, error) {
	b, err := files.Read(path, "reading fault config", maxPlanBytes, nil)
	if err != nil {
		return nil, err
	}
	return ParseConfig(b, path)
}

// ParseConfig decodes and validates a config document; name prefixes every error message.
func ParseConfig(b []byte, name string) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w: the document is empty", name, ErrInvalidConfig)
		}
		return nil, fmt.Errorf("%s: %w: %v", name, ErrInvalidConfig, err)
	}
	if len(doc.Content) == 1 && doc.Content[0].ShortTag() == "!!null" {
		// Decoding null would silently give the default config: a cleared plan nobody asked for.
		return nil, fmt.Errorf("%s: %w: the document is null; send a config (\"faults: []\" clears the plan)", name, ErrInvalidConfig)
	}
	c, errs := DecodeConfig(&doc, "")
	if len(errs) > 0 {
		return nil, prefixErrors(name, errs)
	}
	return c, nil
}

// DecodeConfig decodes and validates a config from a YAML node — a whole document, or a
// section of a larger file such as a scenario's origin — and returns every problem with its
// line and column in that file and the path of its key. what names the section ("origin"),
// empty for a whole document.
func DecodeConfig(n *yaml.Node, what string) (*Config, []error) {
	var raw rawConfig
	var errs []error
	if err := yamlconf.Decode(n, &raw, what); err != nil {
		errs = append(errs, err)
	}
	c := &Config{Seed: raw.Seed, Response: raw.Response, Limits: raw.Limits, FaultHeader: raw.FaultHeader, HeaderLimits: raw.HeaderLimits,
		HTTP2: raw.HTTP2}
	c.SetDefaults()
	for _, e := range c.validateOwn() { // each message starts with its key
		errs = append(errs, &yamlconf.Error{Line: n.Line, Column: n.Column, Msg: yamlconf.KeyPath(what, e.Error())})
	}
	for i := range raw.Faults {
		fn := &raw.Faults[i]
		f, err := decodeFault(fn, yamlconf.KeyPath(what, fmt.Sprintf("faults[%d]", i)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := errors.Join(validateFault(f), c.servesKind(f)); err != nil {
			for _, e := range errext.Flatten(err) { // one line, with its position, per problem
				errs = append(errs, &yamlconf.Error{Line: fn.Line, Column: fn.Column, Msg: fmt.Sprintf("%s: %v", yamlconf.KeyPath(what, fmt.Sprintf("faults[%d]", i)), e)})
			}
			continue
		}
		c.Faults = append(c.Faults, f)
	}
	return c, errs
}

// prefixErrors puts "name:" before each error (giving "file:line:col: msg") and marks the
// whole as ErrInvalidConfig.
func prefixErrors(name string, errs []error) error {
	var lines []string
	for _, e := range errext.Flatten(errors.Join(errs...)) {
		lines = append(lines, name+":"+e.Error())
	}
	return fmt.Errorf("%w:\n  %s", ErrInvalidConfig, strings.Join(lines, "\n  "))
}

// decodeFault turns one mapping node ({kind: rst-headers, after-bytes: 20, ...}) into a Fault.
func decodeFault(n *yaml.Node, where string) (Fault, error) {
	pos := func(msg string) error {
		return &yamlconf.Error{Line: n.Line, Column: n.Column, Msg: where + ": " + msg}
	}
	if n.Kind != yaml.MappingNode {
		return nil, pos("a fault is a mapping with a kind, e.g. {kind: idle-close, timeout: 5s}")
	}
	var kind string
	params := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kind = n.Content[i+1].Value
			continue
		}
		params.Content = append(params.Content, n.Content[i], n.Content[i+1])
	}
	if kind == "" {
		return nil, pos("kind is missing; allowed: " + strings.Join(Kinds(), ", "))
	}
	f, err := NewFault(kind)
	if err != nil {
		return nil, pos(err.Error())
	}
	if err := yamlconf.Decode(params, f, fmt.Sprintf("%s (%s)", where, kind)); err != nil {
		return nil, err
	}
	return f, nil
}

// ParseFaultSpec parses the command-line form "KIND[:k=v,k=v...]" of a fault.
func ParseFaultSpec(spec string) (Fault, error) {
	kind, params, _ := strings.Cut(spec, ":")
	f, err := parseSpec(kind, params, ",")
	if err != nil {
		return nil, fmt.Errorf("--fault %q: %w", spec, err)
	}
	return f, nil
}

// parseFaultHeader parses the X-Gatecrash-Fault form "KIND[;k=v;k=v...]" and holds it to lim.
func parseFaultHeader(v string, lim HeaderLimits) (Fault, error) {
	kind, params, _ := strings.Cut(v, ";")
	f, err := parseSpec(strings.TrimSpace(kind), params, ";")
	if err == nil {
		if b, ok := f.(bounded); ok {
			size, wait := b.bounds()
			switch {
			case size > lim.MaxBodySize:
				err = fmt.Errorf("%s: a body of %d bytes is over this server's limit for header-chosen faults "+
					"(header-limits.max-body-size %d)", kind, size, lim.MaxBodySize)
			case wait > lim.MaxWait.D():
				err = fmt.Errorf("%s: a wait of %s is over this server's limit for header-chosen faults "+
					"(header-limits.max-wait %s)", kind, wait, lim.MaxWait)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("X-Gatecrash-Fault %q: %w", v, err)
	}
	return f, nil
}

func parseSpec(kind, params, sep string) (Fault, error) {
	f, err := NewFault(kind)
	if err != nil {
		return nil, err
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	allowed := fieldsOf(f)
	if strings.TrimSpace(params) != "" {
		for _, kv := range strings.Split(params, sep) {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%s: parameter %q is not key=value; allowed keys: %s", kind, kv, strings.Join(allowed, ", "))
			}
			m.Content = append(m.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Value: strings.TrimSpace(k)},
				&yaml.Node{Kind: yaml.ScalarNode, Value: strings.TrimSpace(v)})
		}
	}
	if err := yamlconf.Decode(m, f, kind); err != nil {
		return nil, oneLine(err)
	}
	if err := validateFault(f); err != nil {
		return nil, oneLine(err)
	}
	return f, nil
}

// oneLine joins every problem in err with "; ": a flag's or a header's error is one line.
func oneLine(err error) error {
	errs := errext.Flatten(err)
	if len(errs) < 2 {
		return err
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// MarshalYAML writes c in the file format ParseConfig reads.
func (c *Config) MarshalYAML() (any, error) {
	faults := make([]*yaml.Node, 0, len(c.Faults))
	for _, f := range c.Faults {
		var n yaml.Node
		if err := n.Encode(f); err != nil {
			return nil, err
		}
		n.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "kind"}, {Kind: yaml.ScalarNode, Value: KindOf(f)},
		}, n.Content...)
		faults = append(faults, &n)
	}
	return struct {
		Seed         uint64         `yaml:"seed"`
		Response     ResponseConfig `yaml:"response"`
		Limits       Limits         `yaml:"limits"`
		FaultHeader  *bool          `yaml:"fault-header,omitempty"`
		HeaderLimits HeaderLimits   `yaml:"header-limits"`
		HTTP2        bool           `yaml:"http2,omitempty"`
		Faults       []*yaml.Node   `yaml:"faults"`
	}{c.Seed, c.Response, c.Limits, c.FaultHeader, c.HeaderLimits, c.HTTP2, faults}, nil
}
