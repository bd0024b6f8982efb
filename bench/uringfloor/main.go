//go:build linux

// Command uringfloor is a measuring stick, not part of gatecrash: the least an HTTP/1.1
// server can do per keep-alive request when one io_uring carries every connection's reads
// and writes, so that one system call (io_uring_enter) serves many requests where nginx and
// gatecrash serve make two or three per request. It answers each request ("\r\n\r\n" counted
// in what arrives, nothing parsed) with gatecrash serve's 85-byte 200, counts nothing and
// injects nothing. bench/serve-vs-nginx.sh runs it beside nginx and gatecrash serve when
// URING_FLOOR=1: what system calls cost per request on this machine, and what batching them
// across connections would buy. With -wait poller it waits for completions through Go's
// poller (internal/uring's Wait), as a server whose other goroutines share the thread must:
// what the same batching costs inside gatecrash.
//
//	uringfloor -listen 127.0.0.1:18300 [-requests N] [-wait kernel|poller]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"syscall"

	"github.com/gatecrash/gatecrash/internal/uring"
)

const (
	opAccept = 1
	opRecv   = 2
	opSend   = 3
)

var answer = []byte("HTTP/1.1 200 OK\r\nServer: gatecrash\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")

type conn struct {
	fd  int
	in  [4096]byte
	out []byte
}

// serve answers requests on listening socket ln until limit have been answered (0: no limit).
// With poller, the ring is waited for through Go's poller (uring.Ring.Wait), as a server
// with other goroutines must; else in the kernel, on a locked thread.
func serve(ln int, limit int, poller bool) error {
	if !poller {
		runtime.LockOSThread() // SINGLE_ISSUER: every io_uring_enter from this thread
		defer runtime.UnlockOSThread()
	}
	r, err := uring.New(uring.Options{Entries: 4096, Blocking: !poller})
	if err != nil {
		return err
	}
	defer r.Close()
	wait := r.SubmitAndWait
	if poller {
		wait = r.Wait
	}
	conns := map[int]*conn{}
	defer func() {
		for fd := range conns {
			syscall.Close(fd)
		}
	}()
	submit := func(op uint8, fd int, buf []byte) error {
		ud := uint64(op)<<32 | uint64(uint32(fd))
		switch op {
		case opAccept:
			return r.Accept(fd, ud)
		case opRecv:
			return r.Recv(fd, buf, ud)
		}
		return r.Send(fd, buf, ud)
	}
	drop := func(c *conn) { syscall.Close(c.fd); delete(conns, c.fd) }
	if err := submit(opAccept, ln, nil); err != nil {
		return err
	}
	answered := 0
	done := make([]uring.Completion, 256)
	for limit == 0 || answered < limit {
		if err := wait(); err != nil {
			return err
		}
		n := r.Reap(done)
		for _, e := range done[:n] {
			op, fd := uint8(e.UserData>>32), int(uint32(e.UserData))
			c := conns[fd]
			switch {
			case op == opAccept:
				if e.Res < 0 {
					return fmt.Errorf("accept: %w", syscall.Errno(-e.Res))
				}
				c := &conn{fd: int(e.Res)}
				syscall.SetsockoptInt(c.fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
				conns[c.fd] = c
				err = errors.Join(submit(opRecv, c.fd, c.in[:]), submit(opAccept, ln, nil))
			case c == nil:
			case op == opRecv && e.Res <= 0:
				drop(c)
			case op == opRecv:
				n := bytes.Count(c.in[:e.Res], []byte("\r\n\r\n"))
				if n == 0 {
					err = submit(opRecv, c.fd, c.in[:]) // a request in pieces: not measured here
					break
				}
				c.out = c.out[:0]
				for range n {
					c.out = append(c.out, answer...)
				}
				err = submit(opSend, c.fd, c.out)
			case op == opSend && int(e.Res) < len(c.out):
				drop(c) // a short send of a few hundred bytes: the peer is gone
			case op == opSend:
				answered += len(c.out) / len(answer)
				err = submit(opRecv, c.fd, c.in[:])
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// listen opens a listening TCP socket on addr (an IPv4 address and port).
func listen(addr string) (int, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return -1, fmt.Errorf("-listen %q: want an IPv4 address and port, such as 127.0.0.1:18300", addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("-listen %s: %w", addr, err)
	}
	if err := syscall.Listen(fd, 1024); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func main() {
	addr := flag.String("listen", "127.0.0.1:18300", "address to listen on")
	limit := flag.Int("requests", 0, "exit after answering this many requests (0: run until killed)")
	waitIn := flag.String("wait", "kernel", "where to wait for completions: kernel (io_uring_enter, on a locked thread) or poller (Go's poller, as a server with other goroutines must)")
	flag.Parse()
	if *waitIn != "kernel" && *waitIn != "poller" {
		fmt.Fprintf(os.Stderr, "uringfloor: -wait %q: want kernel or poller\n", *waitIn)
		os.Exit(2)
	}
	ln, err := listen(*addr)
	if err == nil {
		err = serve(ln, *limit, *waitIn == "poller")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "uringfloor:", err)
		os.Exit(1)
	}
}
