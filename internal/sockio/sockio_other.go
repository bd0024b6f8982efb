//go:build !linux

package sockio

import "errors"

// Supported says whether ReadNow and WriteNow work on this platform.
const Supported = false

// ReadNow is not available here.
func ReadNow(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }

// WriteNow is not available here: it writes nothing, and the caller writes through the
// connection.
func WriteNow(uintptr, []byte) (int, error) { return 0, ErrWouldBlock }
