//go:build unix

package loadgen

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

func exhaustedMessage(e syscall.Errno) string {
	const tail = "; the requests that could not connect are counted as connect-error"
	switch e {
	case syscall.EMFILE:
		var rl syscall.Rlimit
		limit := "unknown"
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
			limit = fmt.Sprintf("soft %d, hard %d", rl.Cur, rl.Max)
		}
		return fmt.Sprintf("file descriptors ran out (EMFILE; open-file limit %s; gatecrash raises the soft limit to the hard one at start): "+
			"raise the hard limit (ulimit -Hn, /etc/security/limits.conf, systemd LimitNOFILE=, docker --ulimit nofile=) "+
			"or use fewer --connections%s", limit, tail)
	case syscall.ENFILE:
		return "the system-wide file table is full (ENFILE): raise fs.file-max (sysctl) or run fewer processes" + tail
	case syscall.EADDRNOTAVAIL:
		ports := "see net.ipv4.ip_local_port_range"
		if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
			var lo, hi int
			if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &lo, &hi); err == nil {
				ports = fmt.Sprintf("net.ipv4.ip_local_port_range %d-%d: %d ports", lo, hi, hi-lo+1)
			}
		}
		return fmt.Sprintf("local ports ran out (EADDRNOTAVAIL; %s, and closed connections hold theirs in TIME_WAIT): "+
			"keep connections alive instead of --no-keepalive or --max-requests-per-conn, open fewer per second, "+
			"or widen the range (sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\")%s", ports, tail)
	}
	return e.Error() + tail
}
