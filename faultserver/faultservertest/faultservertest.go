// Package faultservertest starts fault servers for tests, the way net/http/httptest starts
// HTTP servers: on a loopback port, with the given faults, stopped (and checked to have
// stopped cleanly) when the test ends. Everything here is safe to call from parallel tests.
package faultservertest

import (
	"context"
	"testing"

	"github.com/gatecrash/gatecrash/faultserver"
)

// Origin serves a fault server with the given fault specs ("kind:k=v,...") on a loopback port
// until the test ends, and returns it and its address.
func Origin(t testing.TB, specs ...string) (*faultserver.Server, string) {
	t.Helper()
	s, addrs := origin(t, []bool{false}, false, specs)
	return s, addrs[0]
}

// OriginH2 is OriginBoth speaking HTTP/2 beside HTTP/1.1 — h2c with prior knowledge on the
// plain listener, h2 by ALPN on the TLS one — so the h2 fault kinds act.
func OriginH2(t testing.TB, specs ...string) (s *faultserver.Server, plain, tls string) {
	t.Helper()
	s, addrs := origin(t, []bool{false, true}, true, specs)
	return s, addrs[0], addrs[1]
}

// OriginTLS is Origin with a TLS listener.
func OriginTLS(t testing.TB, specs ...string) (*faultserver.Server, string) {
	t.Helper()
	s, addrs := origin(t, []bool{true}, false, specs)
	return s, addrs[0]
}

// OriginBoth is one fault server behind a plain and a TLS listener (one set of counters).
func OriginBoth(t testing.TB, specs ...string) (s *faultserver.Server, plain, tls string) {
	t.Helper()
	s, addrs := origin(t, []bool{false, true}, false, specs)
	return s, addrs[0], addrs[1]
}

func origin(t testing.TB, listeners []bool, h2 bool, specs []string) (*faultserver.Server, []string) {
	t.Helper()
	cfg := faultserver.DefaultConfig()
	cfg.HTTP2 = h2
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
	var addrs []string
	var dones []<-chan error
	t.Cleanup(func() {
		cancel()
		for _, done := range dones {
			if err := <-done; err != nil {
				t.Errorf("origin: %v", err)
			}
		}
	})
	for _, useTLS := range listeners {
		addr, done, err := s.Listen(ctx, "127.0.0.1:0", useTLS)
		if err != nil {
			t.Fatal(err)
		}
		addrs, dones = append(addrs, addr), append(dones, done)
	}
	return s, addrs
}
