package proxy

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreeListenAddr returns a 127.0.0.1 address for a proxy to listen on. The port is chosen
// below the kernel's ephemeral range (and checked free), so that no other socket bound to port
// 0 — an origin, a client — can take it between this call and the proxy's own bind. A port
// from ":0" could be handed out again the moment it is released.
func FreeListenAddr() (string, error) {
	lo := ephemeralStart() - 1
	const floor = 10000
	if lo <= floor {
		lo = 30000
	}
	for range 100 {
		port := floor + rand.IntN(lo-floor)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr, nil
	}
	return "", errors.New("no free port below the ephemeral range after 100 tries")
}

// ephemeralStart reads the first port of the kernel's ephemeral range (default 32768).
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}
