package sockio

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection and the raw socket of the first.
func pair(t *testing.T) (a, b *net.TCPConn, rc syscall.RawConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a, b = a2.(*net.TCPConn), b2.(*net.TCPConn)
	t.Cleanup(func() { a.Close(); b.Close() })
	if rc, err = a.SyscallConn(); err != nil {
		t.Fatal(err)
	}
	return a, b, rc
}

func readNow(t *testing.T, rc syscall.RawConn, p []byte) (n int, err error) {
	t.Helper()
	if cerr := rc.Control(func(fd uintptr) { n, err = ReadNow(fd, p) }); cerr != nil {
		t.Fatal(cerr)
	}
	return n, err
}

func writeNow(t *testing.T, rc syscall.RawConn, p []byte) (n int, err error) {
	t.Helper()
	if cerr := rc.Control(func(fd uintptr) { n, err = WriteNow(fd, p) }); cerr != nil {
		t.Fatal(cerr)
	}
	return n, err
}

// ReadNow finds nothing without waiting, then what the peer sent, then the peer's FIN;
// WriteNow writes whole what the buffer takes, says how much of what it did not take went
// out, and reports a peer that reset.
func TestReadNowWriteNow(t *testing.T) {
	if !Supported {
		t.Skip("not on this platform")
	}
	a, b, rc := pair(t)
	buf := make([]byte, 64)
	if n, err := readNow(t, rc, buf); n != 0 || err != ErrWouldBlock {
		t.Fatalf("empty socket: %d, %v; want 0, ErrWouldBlock", n, err)
	}
	b.Write([]byte("hello"))
	deadline := time.Now().Add(2 * time.Second)
	var n int
	var err error
	for n, err = readNow(t, rc, buf); err == ErrWouldBlock && time.Now().Before(deadline); n, err = readNow(t, rc, buf) {
		time.Sleep(time.Millisecond)
	}
	if string(buf[:n]) != "hello" || err != nil {
		t.Fatalf("got %q, %v; want hello", buf[:n], err)
	}
	if n, err := writeNow(t, rc, []byte("world")); n != 5 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "world" {
		t.Fatalf("the peer read %q, %v", got, err)
	}

	// More than the send and receive buffers take: part goes out, the rest is the caller's.
	a.SetWriteBuffer(64 << 10)
	big := make([]byte, 64<<20)
	if n, err = writeNow(t, rc, big); err != ErrWouldBlock || n <= 0 || n >= len(big) {
		t.Fatalf("a write larger than the buffers: %d of %d, %v; want part of it and ErrWouldBlock", n, len(big), err)
	}

	// Write takes it whole: the part the buffers take at once, the rest through the connection
	// (which waits while the peer reads).
	drained := make(chan int64)
	go func() { k, _ := io.CopyN(io.Discard, b, int64(n+len(big))); drained <- k }()
	var wn int
	var werr error
	if cerr := rc.Control(func(fd uintptr) { wn, werr = Write(fd, a, big) }); cerr != nil {
		t.Fatal(cerr)
	}
	if k := <-drained; wn != len(big) || werr != nil || k != int64(n+len(big)) {
		t.Fatalf("Write: %d of %d, %v; the peer read %d, want %d (the earlier part and this)", wn, len(big), werr, k, n+len(big))
	}

	deadline = time.Now().Add(2 * time.Second)
	b.CloseWrite()
	for n, err = readNow(t, rc, buf); err == ErrWouldBlock && time.Now().Before(deadline); n, err = readNow(t, rc, buf) {
		time.Sleep(time.Millisecond)
	}
	if n != 0 || err != io.EOF {
		t.Fatalf("after the peer's FIN: %d, %v; want EOF", n, err)
	}

	b.SetLinger(0)
	b.Close() // RST
	for time.Now().Before(deadline) {
		if _, err = writeNow(t, rc, []byte("x")); err != nil && err != ErrWouldBlock {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("writing to a reset peer: %v; want ECONNRESET or EPIPE (and no SIGPIPE)", err)
	}
}
