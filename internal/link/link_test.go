package link

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// lab is a relay between a test client and a test server, with the server's side of the
// accepted connection.
type lab struct {
	client *net.TCPConn
	server *net.TCPConn
}

const latency = 20 * time.Millisecond

// slack is how late a delayed event may arrive on a busy test machine.
const slack = 30 * time.Millisecond

func newLab(t *testing.T, cfg Config) *lab {
	t.Helper()
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	r, err := Listen("127.0.0.1:0", target.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := target.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l := &lab{client: c.(*net.TCPConn), server: s.(*net.TCPConn)}
	// One byte through, so the relay's own connect has completed before a test acts.
	if _, err := l.client.Write([]byte{'!'}); err != nil {
		t.Fatal(err)
	}
	readFull(t, l.server, 1)
	return l
}

// within fails unless d lies in [want, want+slack].
func within(t *testing.T, what string, d, want time.Duration) {
	t.Helper()
	if d < want || d > want+slack {
		t.Errorf("%s after %v; want %v to %v", what, d, want, want+slack)
	}
}

func readFull(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

func TestBytesArriveInOrderAfterTheLatency(t *testing.T) {
	l := newLab(t, Config{Latency: latency, Jitter: 5 * time.Millisecond})
	// Many small writes, jittered each: they must still arrive whole and in order.
	var want []byte
	start := time.Now()
	for i := range 200 {
		b := []byte{byte(i), byte(i >> 8), 'x'}
		want = append(want, b...)
		if _, err := l.client.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	first := readFull(t, l.server, 1)
	within(t, "first byte at the server", time.Since(start), latency-5*time.Millisecond)
	got := append(first, readFull(t, l.server, len(want)-1)...)
	if string(got) != string(want) {
		t.Fatalf("bytes reordered or changed:\n got %x\nwant %x", got, want)
	}
	// And back.
	start = time.Now()
	if _, err := l.server.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if b := readFull(t, l.client, 4); string(b) != "pong" {
		t.Fatalf("client got %q", b)
	}
	within(t, "reply at the client", time.Since(start), latency-5*time.Millisecond)
}

func TestFINArrivesAsFINAfterTheLatency(t *testing.T) {
	l := newLab(t, Config{Latency: latency})
	if _, err := l.server.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := l.server.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if b := readFull(t, l.client, 4); string(b) != "last" {
		t.Fatalf("client got %q before the FIN", b)
	}
	var one [1]byte
	_, err := l.client.Read(one[:])
	if !errors.Is(err, io.EOF) {
		t.Fatalf("after the server's FIN the client read %v; want EOF", err)
	}
	within(t, "FIN at the client", time.Since(start), latency)
	// A FIN closes one direction only: the client can still send, and the server reads it.
	if _, err := l.client.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if b := readFull(t, l.server, 5); string(b) != "after" {
		t.Fatalf("server got %q after its own FIN", b)
	}
	// The client's FIN comes through too.
	start = time.Now()
	l.client.CloseWrite()
	l.server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := l.server.Read(one[:]); !errors.Is(err, io.EOF) {
		t.Fatalf("after the client's FIN the server read %v; want EOF", err)
	}
	within(t, "FIN at the server", time.Since(start), latency)
}

func TestRSTArrivesAsRSTAfterTheLatency(t *testing.T) {
	l := newLab(t, Config{Latency: latency})
	start := time.Now()
	l.server.SetLinger(0)
	l.server.Close()
	var one [1]byte
	l.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := l.client.Read(one[:])
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the server's RST the client read %v; want ECONNRESET", err)
	}
	within(t, "RST at the client", time.Since(start), latency)
}

// The keep-alive race across a network: the server closes an idle connection, the client
// sends a request before the FIN has reached it, and the server's kernel answers the request
// with a reset, which reaches the client one delay later.
func TestRequestAfterCloseGetsRST(t *testing.T) {
	l := newLab(t, Config{Latency: latency})
	l.server.Close() // FIN: on its way for 20 ms
	time.Sleep(latency / 4)
	start := time.Now()
	if _, err := l.client.Write([]byte("POST / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatalf("the client's write should succeed before the FIN arrives: %v", err)
	}
	var one [1]byte
	l.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := l.client.Read(one[:])
	if !errors.Is(err, io.EOF) {
		t.Fatalf("first the FIN: read %v; want EOF", err)
	}
	// The request reached the closed server after one delay; its RST comes back after
	// another. After the FIN a read says EOF either way; the socket's error shows the reset
	// (and the next write would fail with it).
	deadline := time.Now().Add(5 * time.Second)
	for !pendingReset(l.client) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Microsecond)
	}
	if time.Now().After(deadline) {
		t.Fatal("the request to a closed server was never reset")
	}
	within(t, "RST for the request", time.Since(start), 2*latency)
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Latency: -1}, {Latency: time.Millisecond, Jitter: 2 * time.Millisecond}, {Latency: 2 * time.Minute}} {
		if c.Validate() == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
	if err := (Config{Latency: time.Millisecond, Jitter: 100 * time.Microsecond}).Validate(); err != nil {
		t.Error(err)
	}
}
