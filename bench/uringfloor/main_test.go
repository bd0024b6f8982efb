//go:build linux

package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/uring"
)

// The floor answers each request, pipelined or not, with the same bytes as gatecrash serve,
// and stops after -requests answers, waiting in the kernel or in Go's poller.
func TestAnswersEachRequest(t *testing.T) {
	for _, poller := range []bool{false, true} {
		t.Run(map[bool]string{false: "kernel", true: "poller"}[poller], func(t *testing.T) { answersEachRequest(t, poller) })
	}
}

func answersEachRequest(t *testing.T, poller bool) {
	if r, err := uring.New(uring.Options{Entries: 8, Blocking: !poller}); errors.Is(err, uring.ErrUnsupported) {
		t.Skipf("no io_uring here: %v", err)
	} else if err != nil {
		t.Fatal(err)
	} else {
		r.Close()
	}
	ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ln)
	sa, err := syscall.Getsockname(ln)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ln, 4, poller) }()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, n := range []int{3, 1} {
		if _, err := io.WriteString(c, string(bytes.Repeat([]byte(req), n))); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, n*len(answer))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("%d requests: %v", n, err)
		}
		if want := bytes.Repeat(answer, n); !bytes.Equal(got, want) {
			t.Fatalf("%d requests: got %q, want %q", n, got, want)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop after 4 answers")
	}
	if len(answer) != 85 {
		t.Errorf("answer is %d bytes; gatecrash serve's is 85", len(answer))
	}
}

func TestListenSaysWhatIsWanted(t *testing.T) {
	if _, err := listen("localhost"); err == nil || !bytes.Contains([]byte(err.Error()), []byte("want an IPv4 address and port")) {
		t.Fatalf("err = %v", err)
	}
}
