//go:build !unix

package loadgen

import "syscall"

func exhaustedMessage(e syscall.Errno) string {
	return "the load machine ran out of a resource to open connections (" + e.Error() + "); " +
		"the requests that could not connect are counted as connect-error"
}
