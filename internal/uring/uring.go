// Package uring is a small io_uring for code that runs under Go's scheduler: one goroutine
// (not a locked OS thread) carries many sockets' reads and writes, submitting them in one
// system call, and waits for their completions through Go's poller — the ring's file is
// readable when completions are there — so that while it waits the other goroutines run.
//
// Only what a socket server needs is here: recv, send, a timeout linked to the operation
// before it, cancel, and a no-op. A Ring is used by one goroutine at a time; the caller
// serializes (a mutex, or one owner).
//
// Why the two modes (Options.Blocking): a ring waited through the poller must let the
// kernel finish completions for whichever thread submitted them, and gets them without an
// interrupt only with IORING_SETUP_COOP_TASKRUN (measured on this project's machine: without
// it, a responder waited that way answered 0.58× nginx's requests per CPU-second, with it
// 1.36×). A blocking ring (SINGLE_ISSUER and DEFER_TASKRUN, waited for in io_uring_enter by
// a goroutine locked to its thread) is the cheapest of all but holds its thread while it
// waits: bench/uringfloor's measuring stick, not something a server with other goroutines
// can do on one core.
package uring

import (
	"errors"
	"time"
)

// Options say how a ring is set up.
type Options struct {
	// Entries is the submission queue's size (a power of two is used; the completion queue
	// is twice that). 0: 256.
	Entries uint32
	// Blocking sets the ring up for a goroutine locked to its OS thread that waits with
	// SubmitAndWait (SINGLE_ISSUER, DEFER_TASKRUN). Wait, which waits through Go's poller,
	// is then not available.
	Blocking bool
}

// ErrUnsupported is returned by New where io_uring cannot be had: another OS, a kernel
// without it, or one where it is turned off (kernel.io_uring_disabled, seccomp).
var ErrUnsupported = errors.New("io_uring is not available here")

// Completion is one finished operation: the user data given when it was queued and its
// result (a byte count, or a negated errno).
type Completion struct {
	UserData uint64
	Res      int32
}

// durationSpec is a struct __kernel_timespec.
type durationSpec struct {
	sec, nsec int64
}

func specOf(d time.Duration) durationSpec {
	if d < 0 {
		d = 0
	}
	return durationSpec{sec: int64(d / time.Second), nsec: int64(d % time.Second)}
}
