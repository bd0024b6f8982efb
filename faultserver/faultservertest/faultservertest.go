// Package faultservertest starts fault servers for tests, the way net/http/httptest starts
// HTTP servers: on a loopback port, with the given faults, stopped (and checked to have
// stopped cleanly) when the test ends. Everything here is safe to call from parallel tests.
package faultservertest

import (
	"context"
	"net"
	"testing"

	"github.com/gatecrash/gatecrash/faultserver"
)

// Origin serves a fault server with the given fault specs ("kind:k=v,...") on a loopback port
// until the test ends, and returns it and its address.
func Origin(t testing.TB, specs ...string) (*faultserver.Server, string) {
	t.Helper()
	s, addrs := origin(t, []bool{false}, specs)
	return s, addrs[0]
}

// OriginTLS is Origin with a TLS listener.
func OriginTLS(t testing.TB, specs ...string) (*faultserver.Server, string) {
	t.Helper()
	s, addrs := origin(t, []bool{true}, specs)
	return s, addrs[0]
}

// OriginBoth is one fault server behind a plain and a TLS listener (one set of counters).
func OriginBoth(t testing.TB, specs ...string) (s *faultserver.Server, plain, tls string) {
	t.Helper()
	s, addrs := origin(t, []bool{false, true}, specs)
	return s, addrs[0], addrs[1]
}

func origin(t testing.TB, listeners []bool, specs []string) (*faultserver.Server, []string) {
	t.Helper()
	cfg := faultserver.DefaultConfig()
	for _, spec := range specs {
		f, err := faultserver.ParseFaultSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	s, err := faultserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, len(listeners))
	var addrs []string
	for _, useTLS := range listeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		go func() {
			if useTLS {
				done <- s.ServeTLS(ctx, ln)
			} else {
				done <- s.Serve(ctx, ln)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		for range listeners {
			if err := <-done; err != nil {
				t.Errorf("origin: %v", err)
			}
		}
	})
	return s, addrs
}
