//go:build !linux

package faultserver

import "errors"

// Elsewhere the socket queue sizes and a non-consuming peek are not available: a close is
// counted as FIN even when unread input turned it into an RST, an RST may discard bytes not
// yet transmitted, request faults with after-bytes read through a buffer (so a little more of
// the request may be taken than asked), and a fault's wait does not notice a peer that left.
// Unsupported says so at start.
const (
	queueSizesSupported = false
	peekSupported       = false
)

func (c *conn) unreadInKernel() int { return 0 }
func (c *conn) unsentInKernel() int { return 0 }

func (c *conn) waitReadable() error { return errors.ErrUnsupported }

// peeker exists only on Linux.
type peeker struct{}

// fdLimit is unknown here.
func fdLimit() (uint64, bool) { return 0, false }

// tryRead is not available here: every read waits.
func (r *tryReader) tryRead([]byte) (int, error) { return 0, errWouldBlock }

// steadySupported: elsewhere there is no steady path; every request takes the general loop.
const steadySupported = false
