package faultserver

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// Fault is one kind of misbehaviour with its parameters. Each kind lives in its own file,
// registered by name with one line, and also implements exactly one of the phase interfaces
// below (a response fault may add its HTTP/2 form, H2StreamFault), whose one method is the
// whole of what the fault does in that phase: it acts on the connection through conn's primitives (read exactly, write, close as FIN or RST, half-close,
// wait) and tells the connection that it acted with conn.injected (a response fault is
// counted by the request loop when it is chosen).
//
// A kind's name comes from the registry alone (KindOf); a fault type has no name of its own
// to get wrong.
//
// A Fault value belongs to one Plan; its selector keeps a counter for "every", so a Fault must
// not be shared between plans.
type Fault interface {
	// Validate reports every problem with the parameters, joined.
	Validate() error
	// Sel returns the fault's selector, which says which requests it applies to.
	Sel() *Selector
}

// HandshakeFault acts on a connection accepted by the TLS listener, before the handshake.
type HandshakeFault interface {
	Fault
	// handshake acts on the raw connection. It returns true when the TLS handshake should go
	// ahead afterwards; false when the fault ended the connection.
	handshake(c *conn) (proceed bool)
}

// IdleFault acts while a keep-alive connection waits for its next request.
type IdleFault interface {
	Fault
	// idle waits for the next request (conn.awaitRequest) and ends the connection its own way
	// if none comes in time. It returns true when a request has started to arrive.
	idle(c *conn) (arrived bool)
}

// RequestFault acts while a request arrives, before it is answered. It is chosen when the
// request's first byte is there (nothing of it read yet), or — with a match selector or a
// request header — once the head has been read; conn.readRequestBytes counts from the
// request's first byte either way.
type RequestFault interface {
	Fault
	// request reads what it wants of the request and ends the connection. It returns false
	// (the connection is over) unless it chose to answer.
	request(c *conn) (keepAlive bool)
}

// ResponseFault replaces the normal response once the whole request has been read.
type ResponseFault interface {
	Fault
	// respond writes (or does not write) the response to req. keepAlive reports whether the
	// connection may serve another request afterwards; an error is the peer's (it went away).
	// The loop has counted the fault already: it does not call conn.injected.
	respond(c *conn, req *Request) (keepAlive bool, err error)
}

// conditional is a fault with a precondition of its own (close-on-reuse: a reused
// connection). Only candidates that pass it reach the selector, so "every: 10" counts reuses.
type conditional interface {
	applies(in *selInput) bool
}

// earlyConditional is a conditional request fault that can often tell before the request
// comes whether it applies (known), from the request's number and whether the connection is
// reused; in.idle is not known yet.
type earlyConditional interface {
	appliesEarly(in *selInput) (applies, known bool)
}

// bounded is a fault that can say the most it will send and wait, so that a request header
// cannot ask the server for more than the operator allows (Config.HeaderLimits).
type bounded interface {
	bounds() (bodyBytes int64, wait time.Duration)
}

// CloseMode says how the server ends a connection when a fault closes it.
type CloseMode string

// Close modes.
const (
	// CloseFIN closes the socket normally (close(2)). Linux sends FIN — unless request bytes
	// that the server never read are still queued, in which case it sends RST, exactly as a
	// real server that gives up mid-request does. The ground-truth counters report which.
	CloseFIN CloseMode = "fin"
	// CloseRST aborts the connection (SO_LINGER 0): always an RST. The server first waits
	// (at most 500 ms) until what it wrote has left this host, so the RST does not discard
	// it; it does not wait for the peer's acknowledgement.
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
		case phase == "handshake" || phase == "idle" || phase == "h2 idle" || phase == "h2 connection":
			errs = append(errs, fmt.Errorf("%s: match is not supported: this fault acts before any request "+
				"path or header is known; use probability, every or nth", kind))
		case !strings.HasPrefix(s.Match, "/") && !validHeaderName(headerMatchName(s.Match)):
			errs = append(errs, fmt.Errorf("%s: match: %q is neither a path prefix (starting with /) nor a header "+
				"(\"Name\" or \"Name: value\")", kind, s.Match))
		}
	}
	if s.Nth > 0 && (phase == "handshake" || phase == "h2 connection") {
		errs = append(errs, fmt.Errorf("%s: nth is not supported: the fault is chosen once per connection, before any request", kind))
	}
	return errors.Join(errs...)
}

func headerMatchName(m string) string {
	name, _, _ := strings.Cut(m, ":")
	return strings.TrimSpace(name)
}

// selInput is what a selector can look at. req is nil before the request head is read; h2 is
// the HTTP/2 stream whose request was read (nil on HTTP/1.1).
type selInput struct {
	nth    int // 1-based index of the request on its connection (for idle: requests served)
	req    *Request
	h2     *h2stream
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
	if s.Match != "" && !in.matches(s.Match) {
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

// matches implements Selector.Match for the request in hand: an HTTP/1.1 request's head, or an
// HTTP/2 stream's request headers; false before either is known.
func (in *selInput) matches(m string) bool {
	switch {
	case in.req != nil:
		return in.req.matches(m)
	case in.h2 != nil:
		return in.h2.matches(m)
	}
	return false
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

// kindInfo is one registered kind.
type kindInfo struct {
	name  string
	index int // position in the sorted list; the stats counter's index
	new   func() Fault
	// failsRequest: an injection of this kind fails the request it acts on, unless the
	// proxy retries it (the count "absorbed by proxy" is made of). Derived from the phase:
	// request and response faults do, handshake and idle faults (they act on a connection,
	// which may never carry a request) do not; a kind can say otherwise (sparing).
	failsRequest bool
}

// sparing is a request or response fault that does not in itself fail the request it acts
// on (delay: a late answer fails only a timeout shorter than the delay).
type sparing interface {
	sparesRequest()
}

var (
	// registry maps a kind name to its entry; byType maps a fault's concrete type to its name.
	// Both are written by register during package initialisation only.
	registry = map[string]*kindInfo{}
	byType   = map[reflect.Type]*kindInfo{}
	// kindNames is the registered names, sorted; kindInfo.index points into it.
	kindNames []string
)

// register adds a kind. newFault returns the kind's parameters with their defaults; the
// fault's type is learned from it, so the name is written in this one place.
func register(kind string, newFault func() Fault) {
	t := reflect.TypeOf(newFault())
	if _, dup := registry[kind]; dup {
		panic("faultserver: fault kind registered twice: " + kind)
	}
	if other, dup := byType[t]; dup {
		panic(fmt.Sprintf("faultserver: type %s registered as %s and %s", t, other.name, kind))
	}
	phases := 0
	for _, ok := range []bool{isPhase[HandshakeFault](t), isPhase[IdleFault](t), isPhase[RequestFault](t), isPhase[ResponseFault](t),
		isPhase[H2IdleFault](t), isPhase[H2StreamFault](t), isPhase[H2ConnFault](t)} {
		if ok {
			phases++
		}
	}
	if isPhase[ResponseFault](t) && isPhase[H2StreamFault](t) {
		phases-- // a response fault's HTTP/2 form (delay, status): the same phase on a stream
	}
	if phases != 1 {
		panic(fmt.Sprintf("faultserver: %s (%s) implements %d phase interfaces; it must implement exactly one "+
			"(or ResponseFault with its HTTP/2 form, H2StreamFault)", kind, t, phases))
	}
	_, spares := newFault().(sparing)
	k := &kindInfo{name: kind, new: newFault,
		failsRequest: (isPhase[RequestFault](t) || isPhase[ResponseFault](t) || isPhase[H2StreamFault](t) ||
			isPhase[H2ConnFault](t)) && !spares}
	registry[kind], byType[t] = k, k
	kindNames = append(kindNames, kind)
	sort.Strings(kindNames)
	for i, n := range kindNames {
		registry[n].index = i
	}
}

func isPhase[P any](t reflect.Type) bool { return t.Implements(reflect.TypeFor[P]()) }

// Kinds returns the registered fault kinds, sorted.
func Kinds() []string { return slices.Clone(kindNames) }

// KindOf returns the registered name of f's kind ("rst-headers"), or "" for a type that was
// never registered (Config.Validate rejects those).
func KindOf(f Fault) string {
	if k := kindOf(f); k != nil {
		return k.name
	}
	return ""
}

func kindOf(f Fault) *kindInfo { return byType[reflect.TypeOf(f)] }

// NewFault returns a fault of the given kind with its default parameters.
func NewFault(kind string) (Fault, error) {
	k, ok := registry[kind]
	if !ok {
		return nil, fmt.Errorf("%w %q; allowed: %s", ErrUnknownKind, kind, strings.Join(kindNames, ", "))
	}
	return k.new(), nil
}

// FailsRequest reports whether an injection of the named kind fails the request it acts on
// (unless the proxy retries it): request and response faults but delay.
func FailsRequest(kind string) bool {
	k, ok := registry[kind]
	return ok && k.failsRequest
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
	case ResponseFault:
		return "response"
	case H2ConnFault:
		return "h2 connection"
	case H2IdleFault:
		return "h2 idle"
	case H2StreamFault:
		return "h2 stream"
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
