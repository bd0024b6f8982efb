package faultserver

import (
	"github.com/gatecrash/gatecrash/internal/uring"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Plan is a validated Config compiled for serving: faults sorted by the phase they act in and
// the normal response pre-rendered. A server swaps whole plans atomically.
type Plan struct {
	cfg       *Config
	resp      *canned
	handshake []HandshakeFault
	idle      []IdleFault
	preHead   []RequestFault // request faults decided when a request's first byte arrives
	postHead  []RequestFault // request faults that need the head (match)
	response  []ResponseFault
	h2idle    []H2IdleFault   // HTTP/2: while no stream is open
	h2stream  []H2StreamFault // HTTP/2: a stream's request read, before its answer
	h2conn    []H2ConnFault   // HTTP/2: chosen as a connection starts
}

func compile(cfg *Config) (*Plan, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	p := &Plan{cfg: cfg, resp: newCanned(cfg.Response.Status, Payload(cfg.Response.BodySize), cfg.Response.Chunked)}
	for _, f := range cfg.Faults {
		switch f := f.(type) {
		case HandshakeFault:
			p.handshake = append(p.handshake, f)
		case IdleFault:
			p.idle = append(p.idle, f)
		case RequestFault:
			if f.Sel().Match != "" {
				p.postHead = append(p.postHead, f)
			} else {
				p.preHead = append(p.preHead, f)
			}
		case ResponseFault:
			p.response = append(p.response, f)
			// delay and status act on HTTP/2 streams too
			if hf, ok := f.(H2StreamFault); ok {
				p.h2stream = append(p.h2stream, hf)
			}
		case H2ConnFault:
			p.h2conn = append(p.h2conn, f)
		case H2IdleFault:
			p.h2idle = append(p.h2idle, f)
		case H2StreamFault:
			p.h2stream = append(p.h2stream, f)
		}
	}
	return p, nil
}

// Server is the fault-injecting origin. Create it with New, then call Serve and/or ServeTLS
// (each blocks until its context ends). SetConfig, Config and Stats are safe to call at any
// time from any goroutine.
type Server struct {
	plan   atomic.Pointer[Plan]
	stats  *stats
	events eventLog
	nextID atomic.Uint64

	tlsMu  sync.Mutex
	tlsCfg *tls.Config

	// slots bounds the open connections (nil: no bound); log says when the bound is reached.
	slots     chan struct{}
	maxConn   int
	log       io.Writer
	boundSaid atomic.Int64 // when the bound was last reported (Unix ns)
	version   string       // gatecrash's version, for gatecrash_build_info
	upstream  *Upstream    // the app requests are relayed to (nil: the canned response)
	drain     time.Duration
	noSteady  bool // every request takes the general loop (tests compare the two paths)
	useRing   bool // the steady path's reads and writes go through an io_uring (ring.go)
}

// testRing turns WithIOUring on for every server (the package's tests, run again through
// the ring: GATECRASH_TEST_IOURING=1).
var testRing = false

// WithIOUring has the steady path — a plain TCP connection's keep-alive requests that no
// fault takes — read and answered through one io_uring shared by the connections (ring.go),
// one system call for many requests. New fails where io_uring cannot be had.
func WithIOUring() Option { return func(s *Server) { s.useRing = true } }

// WithVersion names gatecrash's version in the admin /metrics (gatecrash_build_info).
func WithVersion(v string) Option { return func(s *Server) { s.version = v } }

// DefaultMaxConnections is the bound on open connections gatecrash serve uses by default.
const DefaultMaxConnections = 10000

// WithMaxConnections bounds the connections open at once across every listener (0: no
// bound). At the bound the server stops accepting: new connections wait in the kernel's
// listen backlog (a client sees a slow connect, not a reset) until one ends, and the server
// says so once per episode on the log (WithLog).
func WithMaxConnections(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.slots, s.maxConn = make(chan struct{}, n), n
		}
	}
}

// WithLog gives the server a place to say what an operator must know while it runs (the
// connection bound reached). Nil discards.
func WithLog(w io.Writer) Option { return func(s *Server) { s.log = w } }

// Option configures injected plumbing of a Server.
type Option func(*Server)

// WithCertificate makes ServeTLS present cert instead of a generated self-signed one.
func WithCertificate(cert tls.Certificate) Option {
	return func(s *Server) { s.tlsCfg = serverTLSConfig(cert) }
}

// New returns a server that serves cfg. The config is defaulted and validated.
func New(cfg *Config, opts ...Option) (*Server, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	s := &Server{stats: newStats()}
	for _, o := range opts {
		o(s)
	}
	s.useRing = s.useRing || testRing
	if err := s.SetConfig(cfg); err != nil {
		return nil, err
	}
	if s.useRing {
		if !steadySupported {
			return nil, fmt.Errorf("io_uring: %w", uring.ErrUnsupported)
		}
		e, err := newRingEngine(nil)
		if err != nil {
			return nil, fmt.Errorf("io_uring: %w", err)
		}
		e.close()
	}
	return s, nil
}

// SetConfig replaces the fault plan (and response and limits) for every request that starts
// afterwards. An invalid config is rejected and the old plan stays.
func (s *Server) SetConfig(cfg *Config) error {
	p, err := compile(cfg)
	if err != nil {
		return err
	}
	if s.upstream != nil && cfg.HTTP2 {
		// HTTP/2 streams would be answered by the server itself, not by the app.
		return fmt.Errorf("%w: http2: the relay (in front of %s) relays HTTP/1.1 only; an HTTP/2 client would get the fault server's own answers, not the app's", ErrInvalidConfig, s.upstream.url)
	}
	s.plan.Store(p)
	return nil
}

// Config returns the config being served. The caller must not modify it.
func (s *Server) Config() *Config { return s.plan.Load().cfg }

// Stats returns a snapshot of the ground-truth counters.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot()
	if s.upstream != nil {
		st.Relay = s.stats.relay.snapshot(s.upstream.url)
	}
	return st
}

// Upstream returns the app the server relays to, or nil when it answers itself.
func (s *Server) Upstream() *Upstream { return s.upstream }

// Serve accepts plain HTTP connections on ln until ctx ends, then closes ln and every
// connection it accepted, and returns after their goroutines have exited. It returns nil
// when ctx ended it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, false)
}

// ServeTLS is Serve for TLS: each accepted connection first passes the handshake faults
// (tls-stall), then completes a TLS handshake with the server's certificate.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener) error {
	if _, err := s.tlsConfig(); err != nil {
		return err
	}
	return s.serve(ctx, ln, true)
}

// Listen listens on addr and serves there, TLS when useTLS, until ctx ends — the listen-then-
// serve every in-process origin does; wrap, when given, wraps the listener first (to watch
// its connections). It returns the address it listens on (addr may ask for port 0) and done,
// which yields Serve's or ServeTLS's error once it has returned.
func (s *Server) Listen(ctx context.Context, addr string, useTLS bool, wrap ...func(net.Listener) net.Listener) (bound string, done <-chan error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	for _, w := range wrap {
		ln = w(ln)
	}
	ch := make(chan error, 1)
	go func() {
		if useTLS {
			ch <- s.ServeTLS(ctx, ln)
		} else {
			ch <- s.Serve(ctx, ln)
		}
	}()
	return ln.Addr().String(), ch, nil
}

func (s *Server) tlsConfig() (*tls.Config, error) {
	s.tlsMu.Lock()
	defer s.tlsMu.Unlock()
	if s.tlsCfg == nil {
		cert, err := SelfSignedCertificate()
		if err != nil {
			return nil, fmt.Errorf("generating TLS certificate: %w", err)
		}
		s.tlsCfg = serverTLSConfig(cert)
	}
	return s.tlsCfg, nil
}

// tracker remembers the open connections of one Serve call so that shutdown can close them.
type tracker struct {
	mu    sync.Mutex
	conns map[net.Conn]tracked
	done  bool
	wg    sync.WaitGroup
}

// A connection's life, as shutdown sees it: idle between requests (closed at once), busy
// with one (left to finish it, within the drain timeout), closing.
const (
	connIdle int32 = iota
	connBusy
	connClosing
)

// tracked is an open connection as shutdown sees it: its life (connIdle, connBusy,
// connClosing) and how to close it.
type tracked struct {
	life  *atomic.Int32
	close func()
}

func (t *tracker) add(c net.Conn, tc tracked) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return false
	}
	t.conns[c] = tc
	t.wg.Add(1)
	return true
}

func (t *tracker) remove(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.wg.Done()
}

// closeAll closes the connections; with drain, only those not busy with a request (the busy
// ones close themselves once their answer is out).
func (t *tracker) closeAll(drain bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	for _, tc := range t.conns {
		if !drain || tc.life.CompareAndSwap(connIdle, connClosing) {
			tc.close()
		}
	}
}

// wait waits for the connection goroutines to end, closing every connection still open
// after d.
func (t *tracker) wait(d time.Duration) {
	ended := make(chan struct{})
	go func() { t.wg.Wait(); close(ended) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ended:
		return
	case <-timer.C:
	}
	t.closeAll(false)
	<-ended
}

// DefaultDrainTimeout is how long shutdown lets requests in flight finish.
const DefaultDrainTimeout = 5 * time.Second

// WithDrainTimeout sets how long shutdown lets requests in flight finish (their answers go
// out whole and are counted) before it closes their connections too. Idle connections close
// at once.
func WithDrainTimeout(d time.Duration) Option { return func(s *Server) { s.drain = d } }

func (s *Server) serve(ctx context.Context, ln net.Listener, useTLS bool) error {
	t := &tracker{conns: map[net.Conn]tracked{}}
	var ring *ringEngine
	if s.useRing && !useTLS {
		var err error
		if ring, err = newRingEngine(s.stats); err != nil {
			ln.Close()
			return fmt.Errorf("io_uring: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		t.closeAll(true)
	})
	defer stop()
	var err error
	backoff := 5 * time.Millisecond
	for {
		if !s.takeSlot(ctx) {
			break
		}
		nc, aerr := ln.Accept()
		if aerr != nil {
			s.releaseSlot()
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(aerr, &ne) && ne.Timeout() || isTemporaryAccept(aerr) {
				time.Sleep(backoff) // EMFILE and the like: back off instead of spinning
				backoff = min(2*backoff, time.Second)
				continue
			}
			err = fmt.Errorf("accepting on %s: %w", ln.Addr(), aerr)
			break
		}
		backoff = 5 * time.Millisecond
		c := s.newConn(ctx, nc)
		c.ring = ring
		if !t.add(nc, tracked{life: &c.life, close: c.closeForShutdown}) {
			nc.Close()
			s.releaseSlot()
			break
		}
		s.stats.connsAccepted.Add(1)
		s.stats.connsOpen.Add(1)
		go func() {
			defer t.remove(nc)
			defer s.releaseSlot()
			defer s.stats.connsOpen.Add(-1)
			if useTLS && !c.startTLS() {
				return
			}
			c.serve()
		}()
	}
	stop()
	ln.Close()
	t.closeAll(true)
	drain := s.drain
	if drain <= 0 {
		drain = DefaultDrainTimeout
	}
	t.wait(drain)
	if ring != nil {
		ring.close()
	}
	return err
}

// takeSlot waits for room under the connection bound; false when ctx ended first.
func (s *Server) takeSlot(ctx context.Context) bool {
	if s.slots == nil {
		return ctx.Err() == nil
	}
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	n := s.stats.maxConnsReached.Add(1)
	// Said at most every 10 s: a server held at its bound would otherwise say it per accept.
	if now := time.Now().UnixNano(); s.log != nil && now-s.boundSaid.Load() >= int64(10*time.Second) {
		s.boundSaid.Store(now)
		fmt.Fprintf(s.log, "fault server: %d connections open, the --max-connections bound: new connections wait in the listen backlog "+
			"until one ends (reached %d times so far)\n", s.maxConn, n)
	}
	select {
	case s.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

// isTemporaryAccept reports accept errors worth retrying (too many open files, a connection
// aborted before accept).
func isTemporaryAccept(err error) bool {
	for _, e := range temporaryAcceptErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// startTLS runs the handshake faults and then the TLS handshake; it reports whether the
// connection goes on to serve requests.
func (c *conn) startTLS() bool {
	p := c.srv.plan.Load()
	in := selInput{rng: c.rng}
	for _, f := range p.handshake {
		if f.Sel().fires(&in) {
			c.acting = f
			if !f.handshake(c) {
				c.closeAs(CloseFIN) // no-op when the fault or the peer already ended it
				return false
			}
			break
		}
	}
	cfg, err := c.srv.tlsConfig()
	if err != nil {
		c.closeAs(CloseFIN)
		return false
	}
	if p.cfg.HTTP2 { // offer h2 by ALPN, and HTTP/1.1 beside it
		cfg = cfg.Clone()
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	tc := tls.Server(c.nc, cfg)
	tc.SetDeadline(time.Now().Add(p.cfg.Limits.HeaderTimeout.D()))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.srv.stats.tlsHandshakeErrs.Add(1)
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			c.peerGone(err)
		} else {
			c.closeAs(CloseFIN) // the client spoke no TLS, or offered nothing we accept
		}
		return false
	}
	tc.SetDeadline(time.Time{})
	c.srv.stats.tlsHandshakes.Add(1)
	c.nc = tc
	c.lastDone = time.Now()
	return true
}
