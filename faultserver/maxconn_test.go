package faultserver

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMaxConnections: at the bound the server stops accepting — a third connection waits
// unanswered in the backlog, the log says why once — and is served as soon as one ends.
func TestMaxConnections(t *testing.T) {
	var log syncBuffer
	s, err := New(nil, WithMaxConnections(2), WithLog(&log))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := ln.Addr().String()
	a, b := dial(t, addr), dial(t, addr)
	for _, c := range []net.Conn{a, b} {
		send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := readN(t, c, 12); string(got) != "HTTP/1.1 200" {
			t.Fatalf("response %q", got)
		}
	}
	third := dial(t, addr) // the kernel completes the handshake; the server does not accept it
	send(t, third, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := third.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("the third connection was served past the bound of 2 (%d bytes, %v)", n, err)
	}
	if got := strings.Count(log.String(), "max-connections"); got != 1 {
		t.Fatalf("%d log lines about the bound, want 1:\n%s", got, log.String())
	}
	if st := s.Stats(); st.MaxConnectionsReached != 1 || st.ConnectionsOpen != 2 {
		t.Fatalf("stats: reached %d, open %d", st.MaxConnectionsReached, st.ConnectionsOpen)
	}
	a.Close()
	third.SetReadDeadline(time.Now().Add(3 * time.Second))
	if got := readN(t, third, 12); string(got) != "HTTP/1.1 200" {
		t.Fatalf("once a connection ended, the waiting one got %q", got)
	}
	b.Close()
	third.Close()
}
