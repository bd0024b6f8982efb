//go:build linux

package faultserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// TestIdleCloseModes: a request is already in the socket when the idle timer is handled (the
// deadline long passed, the bytes unread in the kernel). Mode close closes anyway — the client
// gets a reset, since unread bytes turn the close into an RST — and counts an idle close; mode
// serve serves the request, as an event-loop server would, and counts nothing.
func TestIdleCloseModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []IdleMode{IdleModeClose, IdleModeServe} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			f := &IdleClose{Timeout: yamlconf.Duration(time.Second), Close: CloseFIN, Mode: mode}
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			s, err := New(DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			sc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			c := s.newConn(context.Background(), sc)
			c.br = bufio.NewReaderSize(sc, readBufSize)
			c.plan = s.plan.Load()
			c.lastDone = time.Now().Add(-time.Hour) // the timer fired long ago
			if _, err := io.WriteString(client, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(2 * time.Second); c.unreadInKernel() == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the request never reached the server's socket")
				}
			}
			c.acting = f
			served := f.idle(c)
			closes := s.Stats().Faults["idle-close"]
			switch mode {
			case IdleModeServe:
				if !served || closes != 0 || c.closed {
					t.Fatalf("serve: served %v, idle closes %d, closed %v; want the waiting request served", served, closes, c.closed)
				}
				if c.idleFor < time.Hour {
					t.Errorf("idle for %v before the request; want the hour it sat", c.idleFor)
				}
			case IdleModeClose:
				if served || closes != 1 || !c.closed {
					t.Fatalf("close: served %v, idle closes %d, closed %v; want the connection closed over the request", served, closes, c.closed)
				}
				client.SetReadDeadline(time.Now().Add(2 * time.Second))
				_, err := client.Read(make([]byte, 1))
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("the client read %v; want a reset (the close met an unread request)", err)
				}
			}
		})
	}
	bad := &IdleClose{Timeout: yamlconf.Duration(time.Second), Close: CloseFIN, Mode: "later"}
	if err := bad.Validate(); err == nil {
		t.Error("mode later was accepted")
	}
}
