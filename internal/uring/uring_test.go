//go:build linux

package uring

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func newRing(t *testing.T, o Options) *Ring {
	t.Helper()
	r, err := New(o)
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("no io_uring here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// pair returns both ends of a loopback TCP connection and the fd of the first.
func pair(t *testing.T) (a, b *net.TCPConn, fd int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a, b = s.(*net.TCPConn), c.(*net.TCPConn)
	t.Cleanup(func() { a.Close(); b.Close() })
	rc, err := a.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(f uintptr) { fd = int(f) })
	return a, b, fd
}

// waitFor waits through the poller until n completions have come, at most 5 s.
func waitFor(t *testing.T, r *Ring, n int) []Completion {
	t.Helper()
	var got []Completion
	buf := make([]Completion, 8)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s, %d of %d completions: %+v", len(got), n, got)
		}
		if err := r.Wait(); err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:r.Reap(buf)]...)
	}
	return got
}

func byData(cs []Completion) map[uint64]int32 {
	m := map[uint64]int32{}
	for _, c := range cs {
		m[c.UserData] = c.Res
	}
	return m
}

// A recv waited for through the poller completes when the peer writes, and the goroutine's
// thread runs other goroutines meanwhile (one P: a goroutine that waited in the kernel
// instead would hold it).
func TestWaitParksInThePoller(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := newRing(t, Options{Entries: 8})
	_, peer, fd := pair(t)
	buf := make([]byte, 64)
	if err := r.Recv(fd, buf, 1); err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int64
	go func() {
		for range 50 {
			ran.Add(1)
			time.Sleep(time.Millisecond)
		}
		peer.Write([]byte("hello"))
	}()
	got := waitFor(t, r, 1)
	if got[0].UserData != 1 || got[0].Res != 5 || string(buf[:5]) != "hello" {
		t.Fatalf("completion %+v, buffer %q; want user data 1, 5 bytes \"hello\"", got[0], buf[:max(got[0].Res, 0)])
	}
	if ran.Load() != 50 {
		t.Fatalf("the other goroutine ran %d of 50 times before the peer wrote", ran.Load())
	}
}

// A send puts its bytes on the wire; the peer reads them.
func TestSend(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	_, peer, fd := pair(t)
	msg := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	if err := r.Send(fd, msg, 7); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, r, 1)
	if got[0].UserData != 7 || int(got[0].Res) != len(msg) {
		t.Fatalf("completion %+v, want user data 7, %d bytes", got[0], len(msg))
	}
	in := make([]byte, len(msg))
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(peer, in); err != nil || string(in) != string(msg) {
		t.Fatalf("peer read %q, %v", in, err)
	}
}

// A linked timeout ends a recv that nothing answers (-ECANCELED, the timeout -ETIME), no
// sooner than it says; one whose recv completes in time ends with -ECANCELED.
func TestLinkTimeout(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	_, peer, fd := pair(t)
	buf := make([]byte, 64)
	start := time.Now()
	if err := r.Recv(fd, buf, 1); err != nil {
		t.Fatal(err)
	}
	if err := r.LinkTimeout(30*time.Millisecond, 2); err != nil {
		t.Fatal(err)
	}
	got := byData(waitFor(t, r, 2))
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("the timeout fired after %v, before its 30ms", el)
	}
	if got[1] != -int32(syscall.ECANCELED) || got[2] != -int32(syscall.ETIME) {
		t.Fatalf("recv %d, timeout %d; want -ECANCELED, -ETIME", got[1], got[2])
	}

	peer.Write([]byte("x"))
	if err := r.Recv(fd, buf, 3); err != nil {
		t.Fatal(err)
	}
	if err := r.LinkTimeout(5*time.Second, 4); err != nil {
		t.Fatal(err)
	}
	got = byData(waitFor(t, r, 2))
	if got[3] != 1 || got[4] != -int32(syscall.ECANCELED) {
		t.Fatalf("recv %d, timeout %d; want 1 byte, -ECANCELED", got[3], got[4])
	}
}

// Cancel ends a recv under way: it completes with -ECANCELED, the cancel with 0; a cancel
// of nothing says -ENOENT.
func TestCancel(t *testing.T) {
	r := newRing(t, Options{Entries: 8})
	_, _, fd := pair(t)
	buf := make([]byte, 64)
	if err := r.Recv(fd, buf, 1); err != nil {
		t.Fatal(err)
	}
	if err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if err := r.Cancel(1, 2); err != nil {
		t.Fatal(err)
	}
	if err := r.Cancel(99, 3); err != nil {
		t.Fatal(err)
	}
	got := byData(waitFor(t, r, 3))
	if got[1] != -int32(syscall.ECANCELED) || got[2] != 0 || got[3] != -int32(syscall.ENOENT) {
		t.Fatalf("recv %d, cancel %d, cancel of nothing %d; want -ECANCELED, 0, -ENOENT", got[1], got[2], got[3])
	}
}

// More operations than the submission queue holds are queued: the full queue is submitted
// as the next entry is asked for.
func TestQueueBeyondItsSize(t *testing.T) {
	r := newRing(t, Options{Entries: 4})
	for i := range 10 {
		if err := r.Nop(uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := byData(waitFor(t, r, 10))
	for i := range 10 {
		if res, ok := got[uint64(i)]; !ok || res != 0 {
			t.Fatalf("nop %d: %v %d; got %v", i, ok, res, got)
		}
	}
}

// A blocking ring waits in the kernel, on a locked thread.
func TestBlockingRing(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := newRing(t, Options{Entries: 8, Blocking: true})
	if err := r.Wait(); err == nil {
		t.Fatal("Wait on a blocking ring: no error")
	}
	if err := r.Nop(5); err != nil {
		t.Fatal(err)
	}
	if err := r.SubmitAndWait(); err != nil {
		t.Fatal(err)
	}
	c := make([]Completion, 2)
	if n := r.Reap(c); n != 1 || c[0].UserData != 5 {
		t.Fatalf("reaped %d: %+v", n, c[:n])
	}
}
