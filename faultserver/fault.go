package faultserver

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// Fault is one kind of misbehaviour with its parameters. Each kind lives in its own file and
// also implements exactly one of the phase interfaces below (HandshakeFault, IdleFault,
// RequestFault, ResponseFault), which says when in a connection's life it acts.
//
// A Fault value belongs to one Plan; its selector keeps a counter for "every", so a Fault must
// not be shared between plans.
type Fault interface {
	// Kind returns the registered name, e.g. "rst-headers".
	Kind() string
	// Validate reports every problem with the parameters, joined.
	Validate() error
	// Sel returns the fault's selector, which says which requests it applies to.
	Sel() *Selector
}

// HandshakeFault acts on a connection accepted by the TLS listener, before the handshake.
type HandshakeFault interface {
	Fault
	// stall holds the raw connection instead of answering the ClientHello. It returns true
	// when the handshake should go ahead afterwards (a delayed answer).
	stall(c *conn) (proceed bool)
}

// IdleFault acts while a keep-alive connection waits for its next request.
type IdleFault interface {
	Fault
	// idleTimeout is how long this idle period may last before the fault closes it.
	idleTimeout(rng *rand.Rand) time.Duration
	closeMode() CloseMode
}

// RequestFault acts while the request is being read: it reads AfterBytes of it (or all of it)
// and closes without answering.
type RequestFault interface {
	Fault
	// applies reports whether the kind's own precondition holds (e.g. a reused connection).
	applies(s *selInput) bool
	// afterBytes is how many request bytes to read before closing; -1 means the whole request
	// (head and body) is read, then the connection closed.
	afterBytes() int64
	closeMode() CloseMode
	halfClose() bool
}

// ResponseFault replaces the normal response once the whole request has been read.
type ResponseFault interface {
	Fault
	// respond writes (or does not write) the response. keepAlive reports whether the
	// connection may serve another request afterwards.
	respond(c *conn, p *Plan, req *Request) (keepAlive bool, err error)
}

// CloseMode says how the server ends a connection when a fault closes it.
type CloseMode string

// Close modes.
const (
	// CloseFIN closes the socket normally (close(2)). Linux sends FIN — unless request bytes
	// that the server never read are still queued, in which case it sends RST, exactly as a
	// real server that gives up mid-request does. The ground-truth counters report which.
	CloseFIN CloseMode = "fin"
	// CloseRST aborts the connection (SO_LINGER 0): always an RST, and anything still unsent is
	// discarded (the server first waits until what it wrote has been acknowledged).
	CloseRST CloseMode = "rst"
)

func (m CloseMode) validate(kind string) error {
	switch m {
	case CloseFIN, CloseRST:
		return nil
	}
	return fmt.Errorf("%s: close: %q is not allowed; allowed: fin, rst", kind, string(m))
}

// Selector says which requests (or connections, or idle periods) a fault applies to. All
// conditions that are set must hold; unset conditions always hold. They are tested in this
// order: nth and match, then every (counting only what passed nth and match), then probability.
type Selector struct {
	// Probability is the chance, 0..1, that the fault applies. Unset means 1.
	Probability *float64 `yaml:"probability,omitempty" json:"probability,omitempty"`
	// Every applies the fault to every Nth candidate across all connections (1 = all).
	Every uint64 `yaml:"every,omitempty" json:"every,omitempty"`
	// Nth applies the fault only to the Nth request of each connection (1-based).
	Nth int `yaml:"nth,omitempty" json:"nth,omitempty"`
	// Match limits the fault to requests whose path starts with a prefix ("/upload") or that
	// carry a header ("X-Test" or "X-Test: value"; name case-insensitive, value exact).
	Match string `yaml:"match,omitempty" json:"match,omitempty"`

	seen atomic.Uint64 // candidates that reached the "every" test
}

// Sel returns s itself, so that kinds embedding a Selector satisfy Fault.Sel.
func (s *Selector) Sel() *Selector { return s }

func (s *Selector) validate(kind string, phase string) error {
	var errs []error
	if s.Probability != nil && (*s.Probability < 0 || *s.Probability > 1) {
		errs = append(errs, fmt.Errorf("%s: probability: %v is out of range; allowed: 0 to 1", kind, *s.Probability))
	}
	if s.Nth < 0 {
		errs = append(errs, fmt.Errorf("%s: nth: %d is not allowed; allowed: 1 or more (the Nth request on a connection)", kind, s.Nth))
	}
	if s.Match != "" {
		switch {
		case phase == "handshake" || phase == "idle":
			errs = append(errs, fmt.Errorf("%s: match is not supported: this fault acts before any request "+
				"path or header is known; use probability, every or nth", kind))
		case !strings.HasPrefix(s.Match, "/") && !validHeaderName(headerMatchName(s.Match)):
			errs = append(errs, fmt.Errorf("%s: match: %q is neither a path prefix (starting with /) nor a header "+
				"(\"Name\" or \"Name: value\")", kind, s.Match))
		}
	}
	if s.Nth > 0 && phase == "handshake" {
		errs = append(errs, fmt.Errorf("%s: nth is not supported: the fault acts once per connection, before any request", kind))
	}
	return errors.Join(errs...)
}

func headerMatchName(m string) string {
	name, _, _ := strings.Cut(m, ":")
	return strings.TrimSpace(name)
}

// selInput is what a selector can look at. req is nil before the request head is read.
type selInput struct {
	nth    int // 1-based index of the request on its connection (for idle: requests served)
	req    *Request
	reused bool
	idle   time.Duration // how long the connection sat idle before this request
	rng    *rand.Rand
}

// fires reports whether the selector picks this candidate. It must be called only for
// candidates that passed the kind's own precondition, so that "every" counts the right thing.
func (s *Selector) fires(in *selInput) bool {
	if s.Nth > 0 && in.nth != s.Nth {
		return false
	}
	if s.Match != "" && (in.req == nil || !in.req.matches(s.Match)) {
		return false
	}
	if s.Every > 1 && s.seen.Add(1)%s.Every != 0 {
		return false
	}
	if s.Probability != nil && *s.Probability < 1 {
		return in.rng.Float64() < *s.Probability
	}
	return true
}

// matches implements Selector.Match for a parsed request.
func (r *Request) matches(m string) bool {
	if strings.HasPrefix(m, "/") {
		return bytes.HasPrefix(r.Path(), []byte(m))
	}
	name, value, hasValue := strings.Cut(m, ":")
	v, ok := r.Header(strings.TrimSpace(name))
	if !ok {
		return false
	}
	return !hasValue || string(v) == strings.TrimSpace(value)
}

// registry maps a kind name to a constructor of its zero-valued (defaulted) parameters.
var registry = map[string]func() Fault{}

func register(kind string, newFault func() Fault) {
	if _, dup := registry[kind]; dup {
		panic("faultserver: fault kind registered twice: " + kind)
	}
	registry[kind] = newFault
}

// Kinds returns the registered fault kinds, sorted.
func Kinds() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NewFault returns a fault of the given kind with its default parameters.
func NewFault(kind string) (Fault, error) {
	mk, ok := registry[kind]
	if !ok {
		return nil, fmt.Errorf("%w %q; allowed: %s", ErrUnknownKind, kind, strings.Join(Kinds(), ", "))
	}
	return mk(), nil
}

// phaseOf names when a fault acts, for messages and validation.
func phaseOf(f Fault) string {
	switch f.(type) {
	case HandshakeFault:
		return "handshake"
	case IdleFault:
		return "idle"
	case RequestFault:
		return "request"
	default:
		return "response"
	}
}

// fieldsOf lists the parameter names a fault kind accepts, for error messages.
func fieldsOf(f Fault) []string {
	m := yamlconf.FieldNames(reflect.TypeOf(f))
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// newRand returns the random stream for connection id under seed.
func newRand(seed, id uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, id)) }
