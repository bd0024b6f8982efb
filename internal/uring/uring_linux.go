package uring

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Supported says whether this platform has io_uring at all (New may still find it off).
const Supported = true

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

	opNop         = 0
	opAccept      = 13
	opAsyncCancel = 14
	opLinkTimeout = 15
	opSend        = 26
	opRecv        = 27

	sqeIOLink = 1 << 2

	setupSubmitAll    = 1 << 7
	setupCoopTaskrun  = 1 << 8
	setupTaskrunFlag  = 1 << 9
	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13

	sqCQOverflow  = 1 << 1 // completions the full completion queue did not take wait in the kernel
	sqTaskrun     = 1 << 2 // completions wait for this task to enter the kernel
	sqEnterNeeded = sqCQOverflow | sqTaskrun

	enterGetEvents = 1

	featSingleMmap = 1 << 0

	offSQEs = 0x10000000
)

// Ring is an io_uring. Its methods are not safe for concurrent use.
type Ring struct {
	fd                     int
	mem                    [2][]byte // the mapped rings and submission entries
	sqHead, sqTail, sqMask *uint32
	sqFlags                *uint32
	sqArray                []uint32
	sqes                   []sqe
	times                  []durationSpec // one per submission entry: a linked timeout's
	cqHead, cqTail, cqMask *uint32
	cqes                   []cqe
	pending                uint32 // queued, not yet submitted
	blocking               bool

	file    *os.File // the ring's fd for Go's poller (not in blocking mode)
	rc      syscall.RawConn
	waitFn  func(uintptr) bool
	checked bool
}

func at(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

// New sets up a ring.
func New(o Options) (*Ring, error) {
	entries := o.Entries
	if entries == 0 {
		entries = 256
	}
	var p params
	if o.Blocking {
		p.flags = setupSingleIssuer | setupDeferTaskrun
	} else {
		p.flags = setupCoopTaskrun | setupTaskrunFlag
	}
	p.flags |= setupSubmitAll
	fd, _, e := syscall.Syscall(sysSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		if e == syscall.ENOSYS || e == syscall.EPERM || e == syscall.EACCES || e == syscall.EINVAL {
			return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrUnsupported, e)
		}
		return nil, fmt.Errorf("io_uring_setup: %w", e)
	}
	if p.features&featSingleMmap == 0 {
		syscall.Close(int(fd))
		return nil, fmt.Errorf("%w: the kernel's io_uring maps its rings apart (before Linux 5.4)", ErrUnsupported)
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	rings, err := syscall.Mmap(int(fd), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		syscall.Close(int(fd))
		return nil, fmt.Errorf("mmap of the io_uring rings: %w", err)
	}
	sqes, err := syscall.Mmap(int(fd), offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		syscall.Munmap(rings)
		syscall.Close(int(fd))
		return nil, fmt.Errorf("mmap of the io_uring submission entries: %w", err)
	}
	r := &Ring{
		fd: int(fd), mem: [2][]byte{rings, sqes}, blocking: o.Blocking,
		sqHead: at(rings, p.sqOff.head), sqTail: at(rings, p.sqOff.tail), sqMask: at(rings, p.sqOff.ringMask),
		sqFlags: at(rings, p.sqOff.flags),
		sqArray: unsafe.Slice(at(rings, p.sqOff.array), p.sqEntries),
		sqes:    unsafe.Slice((*sqe)(unsafe.Pointer(&sqes[0])), p.sqEntries),
		times:   make([]durationSpec, p.sqEntries),
		cqHead:  at(rings, p.cqOff.head), cqTail: at(rings, p.cqOff.tail), cqMask: at(rings, p.cqOff.ringMask),
		cqes: unsafe.Slice((*cqe)(unsafe.Pointer(&rings[p.cqOff.cqes])), p.cqEntries),
	}
	if !o.Blocking {
		if err := unix.SetNonblock(r.fd, true); err != nil {
			r.unmap()
			syscall.Close(r.fd)
			return nil, fmt.Errorf("io_uring fd: %w", err)
		}
		r.file = os.NewFile(uintptr(r.fd), "io_uring")
		if r.rc, err = r.file.SyscallConn(); err != nil {
			r.Close()
			return nil, fmt.Errorf("io_uring fd: %w", err)
		}
		r.waitFn = r.waitStep
	}
	return r, nil
}

func (r *Ring) unmap() {
	syscall.Munmap(r.mem[0])
	syscall.Munmap(r.mem[1])
}

// Close releases the ring. Operations still in flight are cancelled by the kernel; the
// buffers they were given must stay untouched until Close returns.
func (r *Ring) Close() error {
	var err error
	if r.file != nil {
		err = r.file.Close()
	} else {
		err = syscall.Close(r.fd)
	}
	r.unmap()
	return err
}

// next returns a zeroed submission entry and its index, submitting what is queued first
// when the queue is full.
func (r *Ring) next() (*sqe, uint32, error) {
	tail := *r.sqTail
	if tail-atomic.LoadUint32(r.sqHead) > *r.sqMask {
		if err := r.enter(0); err != nil {
			return nil, 0, err
		}
		if tail-atomic.LoadUint32(r.sqHead) > *r.sqMask {
			return nil, 0, errors.New("io_uring submission queue full after a submit")
		}
	}
	i := tail & *r.sqMask
	r.sqArray[i] = i
	s := &r.sqes[i]
	*s = sqe{}
	atomic.StoreUint32(r.sqTail, tail+1)
	r.pending++
	return s, i, nil
}

func (r *Ring) queue(op uint8, fd int, p []byte, msgFlags uint32, userData uint64) error {
	s, _, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.opFlags, s.userData = op, int32(fd), msgFlags, userData
	if len(p) > 0 {
		s.addr, s.len = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), uint32(len(p))
	}
	return nil
}

// Recv queues a recv(2) of socket fd into p. p must not be touched until its completion.
func (r *Ring) Recv(fd int, p []byte, userData uint64) error {
	return r.queue(opRecv, fd, p, 0, userData)
}

// Send queues a send(2) of p on socket fd, with MSG_NOSIGNAL (a peer gone is -EPIPE). p must
// not be touched until its completion, which may say that less than all of p went out.
func (r *Ring) Send(fd int, p []byte, userData uint64) error {
	return r.queue(opSend, fd, p, unix.MSG_NOSIGNAL, userData)
}

// Accept queues an accept4(2) on listening socket fd; the new socket is SOCK_CLOEXEC and its
// fd is the completion's result.
func (r *Ring) Accept(fd int, userData uint64) error {
	return r.queue(opAccept, fd, nil, unix.SOCK_CLOEXEC, userData)
}

// Nop queues an operation that does nothing but complete: a way to wake the ring's waiter.
func (r *Ring) Nop(userData uint64) error { return r.queue(opNop, -1, nil, 0, userData) }

// Cancel queues the cancellation of the operation queued with user data target. Its own
// completion says 0 (cancelled: the target completes with -ECANCELED), -ENOENT (not found:
// finished already) or -EALREADY (under way; it completes by itself).
func (r *Ring) Cancel(target, userData uint64) error {
	s, _, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.addr, s.userData = opAsyncCancel, -1, target, userData
	return nil
}

// LinkTimeout bounds the operation queued just before it by d: if that has not completed by
// then it completes with -ECANCELED, and this one with -ETIME; if it completes in time, this
// one completes with -ECANCELED. Both always complete.
func (r *Ring) LinkTimeout(d time.Duration, userData uint64) error {
	tail := *r.sqTail
	if r.pending == 0 {
		return errors.New("LinkTimeout: no operation queued before it")
	}
	prev := &r.sqes[(tail-1)&*r.sqMask]
	if tail-atomic.LoadUint32(r.sqHead) > *r.sqMask {
		// the ring is full: the operation and its timeout must go in one submission
		return errors.New("LinkTimeout: the submission queue is full")
	}
	prev.flags |= sqeIOLink
	s, i, err := r.next()
	if err != nil {
		return err
	}
	r.times[i] = specOf(d)
	s.opcode, s.fd, s.addr, s.len, s.userData = opLinkTimeout, -1, uint64(uintptr(unsafe.Pointer(&r.times[i]))), 1, userData
	return nil
}

// RecvWithin queues a Recv bounded by d (LinkTimeout; 0: not bounded), the two in one
// submission.
func (r *Ring) RecvWithin(fd int, p []byte, d time.Duration, userData, timeoutData uint64) error {
	if d > 0 && *r.sqTail+1-atomic.LoadUint32(r.sqHead) > *r.sqMask {
		if err := r.enter(0); err != nil {
			return err
		}
	}
	if err := r.Recv(fd, p, userData); err != nil || d <= 0 {
		return err
	}
	return r.LinkTimeout(d, timeoutData)
}

// Pending is how many operations are queued and not yet submitted.
func (r *Ring) Pending() uint32 { return r.pending }

// enter submits what is queued and, with minComplete > 0, waits for that many completions.
func (r *Ring) enter(minComplete uint32) error {
	for {
		n, _, e := syscall.RawSyscall6(sysEnter, uintptr(r.fd), uintptr(r.pending), uintptr(minComplete), enterGetEvents, 0, 0)
		switch e {
		case 0:
			r.pending -= min(uint32(n), r.pending)
			return nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN, syscall.EBUSY:
			// the kernel is short of memory for requests, or completions overflow: what is
			// there must be reaped first; the caller's next Submit sends the rest
			return nil
		}
		return fmt.Errorf("io_uring_enter: %w", e)
	}
}

// Submit hands what is queued to the kernel, without waiting, and lets the kernel finish
// completions that wait for this thread or for room in the completion queue.
func (r *Ring) Submit() error {
	if r.pending == 0 && atomic.LoadUint32(r.sqFlags)&sqEnterNeeded == 0 {
		return nil
	}
	return r.enter(0)
}

// SubmitAndWait submits what is queued and waits, in the kernel, for at least one
// completion (a Blocking ring; its goroutine holds its thread meanwhile).
func (r *Ring) SubmitAndWait() error { return r.enter(1) }

// Ready says whether completions are there to reap.
func (r *Ring) Ready() bool { return *r.cqHead != atomic.LoadUint32(r.cqTail) }

// Wait submits what is queued and waits until a completion is there, through Go's poller:
// the goroutine parks and its thread runs other goroutines meanwhile. It returns at once
// when one is there.
func (r *Ring) Wait() error {
	if r.rc == nil {
		return errors.New("Wait on a blocking ring: use SubmitAndWait")
	}
	if err := r.Submit(); err != nil {
		return err
	}
	if r.Ready() {
		return nil
	}
	r.checked = false
	return r.rc.Read(r.waitFn)
}

// Park waits, through Go's poller, until a completion is there, without submitting what is
// queued: for a ring whose submissions other goroutines make under the caller's lock, which
// Park does not hold while it waits.
func (r *Ring) Park() error {
	if r.rc == nil {
		return errors.New("Park on a blocking ring: use SubmitAndWait")
	}
	r.checked = false
	return r.rc.Read(r.waitFn)
}

// waitStep is Wait's wait: the poller's readiness of the ring is cleared when the wait
// begins, so the first call looks at the queue once more (a completion posted since then
// wakes the wait); a call after a wake-up ends it.
func (r *Ring) waitStep(uintptr) bool {
	if r.checked {
		return true
	}
	r.checked = true
	if atomic.LoadUint32(r.sqFlags)&sqEnterNeeded != 0 {
		// runs the completions that wait for this thread; submits nothing (what is queued
		// may be another goroutine's, under its lock)
		syscall.RawSyscall6(sysEnter, uintptr(r.fd), 0, 0, enterGetEvents, 0, 0)
	}
	return r.Ready()
}

// Reap copies the completions that are there into c, at most len(c), and returns how many.
func (r *Ring) Reap(c []Completion) int {
	head, tail := *r.cqHead, atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail && n < len(c); head++ {
		e := &r.cqes[head&*r.cqMask]
		c[n] = Completion{UserData: e.userData, Res: e.res}
		n++
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}
