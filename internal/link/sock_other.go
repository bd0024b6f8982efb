//go:build !unix

package link

import "net"

// pendingReset is not available here: a reset that follows the peer's FIN is passed on only
// when a later write fails.
func pendingReset(*net.TCPConn) bool { return false }
