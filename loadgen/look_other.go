//go:build !linux

package loadgen

import (
	"net"
	"syscall"
)

// Elsewhere there is no non-blocking peek: every model behaves as naive, and a failure on a
// reused connection cannot be told stale or race. Run says so in the result's client model.
const lookSupported = false

type looker struct{}

func newLooker(*net.TCPConn) *looker { return nil }

func (l *looker) look() liveness { return unknown }

// rawConn: there is no exchange inside one wait here.
func (l *looker) rawConn() syscall.RawConn { return nil }

// lookFD: no look here.
func (l *looker) lookFD(uintptr) liveness { return unknown }
