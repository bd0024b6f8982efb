package faultserver

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// startServer serves cfg on a fresh loopback port (plain, and TLS when tlsToo) and stops it
// when the test ends, checking that Serve returned cleanly.
func startServer(t *testing.T, cfg *Config) (*Server, string) {
	t.Helper()
	s, addr, _ := startServerTLS(t, cfg, false)
	return s, addr
}

func startServerTLS(t *testing.T, cfg *Config, tlsToo bool, opts ...Option) (*Server, string, string) {
	t.Helper()
	s, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	n := 1
	go func() { done <- s.Serve(ctx, ln) }()
	tlsAddr := ""
	if tlsToo {
		tln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tlsAddr = tln.Addr().String()
		n++
		go func() { done <- s.ServeTLS(ctx, tln) }()
	}
	t.Cleanup(func() {
		cancel()
		for i := 0; i < n; i++ {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve returned %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Serve did not return within 5s of cancel")
			}
		}
	})
	return s, ln.Addr().String(), tlsAddr
}

// withFaults returns a default config with the given fault specs.
func withFaults(t testing.TB, specs ...string) *Config {
	t.Helper()
	cfg := DefaultConfig()
	for _, s := range specs {
		f, err := ParseFaultSpec(s)
		if err != nil {
			t.Fatalf("ParseFaultSpec(%q): %v", s, err)
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	return cfg
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readUntilEnd reads until the connection ends or the deadline passes and returns what arrived
// and how it ended: io.EOF, syscall.ECONNRESET or a timeout error.
func readUntilEnd(t *testing.T, c net.Conn, within time.Duration) ([]byte, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}

// readN reads exactly n bytes or fails the test.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: got %q, %v", n, b, err)
	}
	return b
}

// ending names how a read ended, for assertions and messages.
func ending(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "open"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, syscall.ECONNRESET):
		return "RST"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return err.Error()
}

// okResponse is the default response to a keep-alive HTTP/1.1 request.
const okResponse = "HTTP/1.1 200 OK\r\nServer: gatecrash\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

const getReq = "GET / HTTP/1.1\r\nHost: t\r\n\r\n"

// waitStats polls until cond holds for the server's stats (counters are updated just after
// the bytes go out, so a client can see the bytes a moment before the count).
func waitStats(t *testing.T, s *Server, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		st := s.Stats()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never showed %s: %+v", what, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func init() {
	if os.Getenv("GATECRASH_TEST_IOURING") == "1" {
		testRing = true
	}
}
