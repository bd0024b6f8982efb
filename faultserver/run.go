package faultserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// RunOptions is what `gatecrash serve` runs: a config and the addresses to listen on.
type RunOptions struct {
	Config *Config
	// Listen is the plain HTTP address ("" for none); TLSListen the TLS one ("" for none).
	Listen, TLSListen string
	// Admin is the admin HTTP address ("" for none).
	Admin string
	// Certificate for TLS; nil generates a self-signed one.
	Certificate *tls.Certificate
	// Log receives one line per listener once it is ready, and what an operator must know
	// while it runs. Nil discards.
	Log io.Writer
	// MaxConnections bounds the connections open at once (0: no bound).
	MaxConnections int
	// Version is gatecrash's version, for the admin /metrics.
	Version string
	// Upstream makes the server a relay in front of this app (nil: it answers itself).
	Upstream *Upstream
	// IOUring has the steady path read and answer through an io_uring (WithIOUring).
	IOUring bool
}

// Run listens where opts says and serves until ctx ends, then shuts everything down and
// returns the final ground-truth counters. Listen errors are returned before serving starts.
func Run(ctx context.Context, opts RunOptions) (Stats, error) {
	if most, ok := connectionBudget(opts.Upstream != nil); ok && (opts.MaxConnections == 0 || opts.MaxConnections > most) {
		perConn := "one file descriptor"
		if opts.Upstream != nil {
			perConn = "two file descriptors (the proxy's and the app's)"
		}
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "note: connections bounded at %d, not %s: each takes %s and this process may open %d (ulimit -n)\n",
				most, boundWord(opts.MaxConnections), perConn, fdLimitOrZero())
		}
		opts.MaxConnections = most
	}
	srvOpts := []Option{WithMaxConnections(opts.MaxConnections), WithLog(opts.Log), WithVersion(opts.Version)}
	if opts.IOUring {
		srvOpts = append(srvOpts, WithIOUring())
	}
	if opts.Certificate != nil {
		srvOpts = append(srvOpts, WithCertificate(*opts.Certificate))
	}
	if opts.Upstream != nil {
		srvOpts = append(srvOpts, WithUpstream(opts.Upstream))
	}
	s, err := New(opts.Config, srvOpts...)
	if err != nil {
		return Stats{}, err
	}
	if opts.Listen == "" && opts.TLSListen == "" {
		return Stats{}, errors.New("nothing to serve: give an HTTP or a TLS listen address")
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	listen := func(role, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%w: %s listener on %s: %w", ErrListen, role, addr, err)
		}
		lns = append(lns, ln)
		return ln, nil
	}
	var plain, tlsLn, admin net.Listener
	if opts.Listen != "" {
		if plain, err = listen("HTTP", opts.Listen); err != nil {
			return Stats{}, err
		}
	}
	if opts.TLSListen != "" {
		if tlsLn, err = listen("TLS", opts.TLSListen); err != nil {
			return Stats{}, err
		}
	}
	if opts.Admin != "" {
		if admin, err = listen("admin", opts.Admin); err != nil {
			return Stats{}, err
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	if plain != nil {
		fmt.Fprintf(logw, "fault server: http://%s\n", plain.Addr())
		g.Go(func() error { return s.Serve(gctx, plain) })
	}
	if tlsLn != nil {
		fmt.Fprintf(logw, "fault server: https://%s (self-signed unless a certificate was given)\n", tlsLn.Addr())
		g.Go(func() error { return s.ServeTLS(gctx, tlsLn) })
	}
	if u := opts.Upstream; u != nil {
		fmt.Fprintf(logw, "relay: requests go to the app at %s\n", u)
		if err := u.check(ctx); err != nil {
			fmt.Fprintf(logw, "warning: the app at %s cannot be reached now (%v); requests get 502 until it can\n", u, err)
		}
	}
	for _, what := range Unsupported() {
		fmt.Fprintf(logw, "note: on this system %s\n", what)
	}
	if admin != nil {
		fmt.Fprintf(logw, "admin: http://%s/stats /metrics /faults\n", admin.Addr())
		if !isLoopback(admin.Addr()) {
			fmt.Fprintf(logw, "warning: the admin listener %s is reachable from other hosts, and anyone who reaches it "+
				"can change the fault plan (PUT /faults); bind it to 127.0.0.1 unless that is what you want\n", admin.Addr())
		}
		h := s.AdminHandler()
		if isLoopback(admin.Addr()) {
			h = LocalHostsOnly(h)
		}
		// ReadTimeout bounds the whole request, body included: trickled PUT bodies must not
		// hold connections open.
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		g.Go(func() error {
			if err := hs.Serve(admin); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("admin listener: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			hs.Shutdown(sctx)
			return nil
		})
	}
	err = g.Wait()
	return s.Stats(), err
}

// isLoopback reports whether addr is bound to a loopback address only.
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// connectionBudget is the most connections the open-file limit allows, keeping 64 files for
// listeners, logs and the admin endpoint: half as many for a relay, whose every connection
// has one to the app.
func connectionBudget(relay bool) (int, bool) {
	lim, ok := fdLimit()
	if !ok || lim <= 128 || lim > 1<<31 {
		return 0, false
	}
	n := int(lim - 64)
	if relay {
		n /= 2
	}
	return n, true
}

func fdLimitOrZero() uint64 {
	lim, _ := fdLimit()
	return lim
}

func boundWord(n int) string {
	if n == 0 {
		return "unbounded"
	}
	return fmt.Sprint(n)
}
