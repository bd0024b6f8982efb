package faultserver

import "errors"

// Sentinel errors of the package; test with errors.Is.
var (
	// ErrInvalidConfig marks a config, fault spec or fault header that cannot be used. The
	// message names the file, line, fault and field, and what is allowed.
	ErrInvalidConfig = errors.New("invalid fault configuration")
	// ErrUnknownKind is a fault kind that is not registered.
	ErrUnknownKind = errors.New("unknown fault kind")
	// ErrListen marks a listener that could not be opened: Run served nothing.
	ErrListen = errors.New("cannot listen")
)

// Unsupported lists what this platform cannot do, in words for a start-up message; empty on
// Linux, where everything works.
func Unsupported() []string {
	var out []string
	if !queueSizesSupported {
		out = append(out, "closes are counted as FIN even when the kernel sent RST (no SIOCINQ), and "+
			"an RST may discard response bytes not yet sent (no SIOCOUTQNSD)")
	}
	if !peekSupported {
		out = append(out, "after-bytes of request faults is approximate (no MSG_PEEK), and delays "+
			"do not end early when the peer leaves")
	}
	return out
}
