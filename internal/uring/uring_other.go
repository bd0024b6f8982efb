//go:build !linux

package uring

import "time"

// Supported says whether this platform has io_uring at all.
const Supported = false

// Ring is an io_uring; there is none on this platform.
type Ring struct{}

// New reports ErrUnsupported: io_uring is Linux's.
func New(Options) (*Ring, error) { return nil, ErrUnsupported }

func (*Ring) Close() error                   { return nil }
func (*Ring) Recv(int, []byte, uint64) error { return ErrUnsupported }
func (*Ring) Send(int, []byte, uint64) error { return ErrUnsupported }
func (*Ring) Accept(int, uint64) error       { return ErrUnsupported }
func (*Ring) RecvWithin(int, []byte, time.Duration, uint64, uint64) error {
	return ErrUnsupported
}
func (*Ring) Park() error                             { return ErrUnsupported }
func (*Ring) Nop(uint64) error                        { return ErrUnsupported }
func (*Ring) Cancel(uint64, uint64) error             { return ErrUnsupported }
func (*Ring) LinkTimeout(time.Duration, uint64) error { return ErrUnsupported }
func (*Ring) Pending() uint32                         { return 0 }
func (*Ring) Submit() error                           { return ErrUnsupported }
func (*Ring) SubmitAndWait() error                    { return ErrUnsupported }
func (*Ring) Ready() bool                             { return false }
func (*Ring) Wait() error                             { return ErrUnsupported }
func (*Ring) Reap([]Completion) int                   { return 0 }
