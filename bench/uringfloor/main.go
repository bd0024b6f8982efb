//go:build linux

// Command uringfloor is a measuring stick, not part of gatecrash: the least an HTTP/1.1
// server can do per keep-alive request when one io_uring carries every connection's reads
// and writes, so that one system call (io_uring_enter) serves many requests where nginx and
// gatecrash serve make two or three per request. It answers each request ("\r\n\r\n" counted
// in what arrives, nothing parsed) with gatecrash serve's 85-byte 200, counts nothing and
// injects nothing. bench/serve-vs-nginx.sh runs it beside nginx and gatecrash serve when
// URING_FLOOR=1: what system calls cost per request on this machine, and what batching them
// across connections would buy.
//
//	uringfloor -listen 127.0.0.1:18300 [-requests N]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The kernel's io_uring ABI (include/uapi/linux/io_uring.h).
type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

type sqe struct {
	opcode, flags         uint8
	ioprio                uint16
	fd                    int32
	off, addr             uint64
	len, opFlags          uint32
	userData              uint64
	bufIndex, personality uint16
	spliceFDIn            int32
	addr3, pad            uint64
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

const (
	sysSetup = 425 // io_uring_setup, the same number on every architecture
	sysEnter = 426

	opAccept = 13
	opSend   = 26
	opRecv   = 27

	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13
	enterGetEvents    = 1
	offSQEs           = 0x10000000
)

var answer = []byte("HTTP/1.1 200 OK\r\nServer: gatecrash\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")

type ring struct {
	fd                     int
	mem                    [2][]byte // the mapped rings and submission entries
	sqHead, sqTail, sqMask *uint32
	sqArray                []uint32
	sqes                   []sqe
	cqHead, cqTail, cqMask *uint32
	cqes                   []cqe
	pending                uint32
}

func at(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

func newRing(entries uint32) (*ring, error) {
	var p params
	p.flags = setupSingleIssuer | setupDeferTaskrun
	fd, _, e := syscall.Syscall(sysSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", e)
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	rings, err := syscall.Mmap(int(fd), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		syscall.Close(int(fd))
		return nil, fmt.Errorf("mmap rings: %w", err)
	}
	sqes, err := syscall.Mmap(int(fd), offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		syscall.Munmap(rings)
		syscall.Close(int(fd))
		return nil, fmt.Errorf("mmap sqes: %w", err)
	}
	return &ring{
		fd: int(fd), mem: [2][]byte{rings, sqes},
		sqHead: at(rings, p.sqOff.head), sqTail: at(rings, p.sqOff.tail), sqMask: at(rings, p.sqOff.ringMask),
		sqArray: unsafe.Slice(at(rings, p.sqOff.array), p.sqEntries),
		sqes:    unsafe.Slice((*sqe)(unsafe.Pointer(&sqes[0])), p.sqEntries),
		cqHead:  at(rings, p.cqOff.head), cqTail: at(rings, p.cqOff.tail), cqMask: at(rings, p.cqOff.ringMask),
		cqes: unsafe.Slice((*cqe)(unsafe.Pointer(&rings[p.cqOff.cqes])), p.cqEntries),
	}, nil
}

func (r *ring) close() {
	syscall.Munmap(r.mem[0])
	syscall.Munmap(r.mem[1])
	syscall.Close(r.fd)
}

// next returns a zeroed submission entry, submitting what is queued first if the ring is full.
func (r *ring) next() (*sqe, error) {
	tail := *r.sqTail
	if tail-atomic.LoadUint32(r.sqHead) > *r.sqMask {
		if err := r.enter(0); err != nil {
			return nil, err
		}
	}
	i := tail & *r.sqMask
	r.sqArray[i] = i
	s := &r.sqes[i]
	*s = sqe{}
	atomic.StoreUint32(r.sqTail, tail+1)
	r.pending++
	return s, nil
}

// enter submits what is queued and waits for at least min completions: the one system call.
func (r *ring) enter(min uint32) error {
	for {
		_, _, e := syscall.RawSyscall6(sysEnter, uintptr(r.fd), uintptr(r.pending), uintptr(min), enterGetEvents, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return fmt.Errorf("io_uring_enter: %w", e)
		}
		r.pending = 0
		return nil
	}
}

type conn struct {
	fd  int
	in  [4096]byte
	out []byte
}

// serve answers requests on listening socket ln until limit have been answered (0: no limit).
func serve(ln int, limit int) error {
	runtime.LockOSThread() // SINGLE_ISSUER: every io_uring_enter from this thread
	defer runtime.UnlockOSThread()
	r, err := newRing(4096)
	if err != nil {
		return err
	}
	defer r.close()
	conns := map[int]*conn{}
	defer func() {
		for fd := range conns {
			syscall.Close(fd)
		}
	}()
	submit := func(op uint8, fd int, buf []byte) error {
		s, err := r.next()
		if err != nil {
			return err
		}
		s.opcode, s.fd, s.userData = op, int32(fd), uint64(op)<<32|uint64(uint32(fd))
		if len(buf) > 0 {
			s.addr, s.len = uint64(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf))
		}
		if op == opSend {
			s.opFlags = syscall.MSG_NOSIGNAL
		}
		return nil
	}
	drop := func(c *conn) { syscall.Close(c.fd); delete(conns, c.fd) }
	if err := submit(opAccept, ln, nil); err != nil {
		return err
	}
	answered := 0
	for limit == 0 || answered < limit {
		if err := r.enter(1); err != nil {
			return err
		}
		head, tail := *r.cqHead, atomic.LoadUint32(r.cqTail)
		for ; head != tail; head++ {
			e := r.cqes[head&*r.cqMask]
			op, fd := uint8(e.userData>>32), int(uint32(e.userData))
			c := conns[fd]
			switch {
			case op == opAccept:
				if e.res < 0 {
					return fmt.Errorf("accept: %w", syscall.Errno(-e.res))
				}
				c := &conn{fd: int(e.res)}
				syscall.SetsockoptInt(c.fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
				conns[c.fd] = c
				err = errors.Join(submit(opRecv, c.fd, c.in[:]), submit(opAccept, ln, nil))
			case c == nil:
			case op == opRecv && e.res <= 0:
				drop(c)
			case op == opRecv:
				n := bytes.Count(c.in[:e.res], []byte("\r\n\r\n"))
				if n == 0 {
					err = submit(opRecv, c.fd, c.in[:]) // a request in pieces: not measured here
					break
				}
				c.out = c.out[:0]
				for range n {
					c.out = append(c.out, answer...)
				}
				err = submit(opSend, c.fd, c.out)
			case op == opSend && int(e.res) < len(c.out):
				drop(c) // a short send of a few hundred bytes: the peer is gone
			case op == opSend:
				answered += len(c.out) / len(answer)
				err = submit(opRecv, c.fd, c.in[:])
			}
			if err != nil {
				return err
			}
		}
		atomic.StoreUint32(r.cqHead, head)
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
	flag.Parse()
	ln, err := listen(*addr)
	if err == nil {
		err = serve(ln, *limit)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "uringfloor:", err)
		os.Exit(1)
	}
}
