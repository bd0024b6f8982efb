package loadgen

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// handlingServer hands each connection, its request head read, to handle.
func handlingServer(t *testing.T, handle func(*net.TCPConn)) string {
	return "http://" + serveConns(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			handle(c.(*net.TCPConn))
		}
	}) + "/"
}

// An exchange that fails inside the wait (exchange.go) is classified as one through
// net.Conn's calls, and its exemplar reads the same: "read tcp A->B: ...".
func TestExchangeInWaitErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		handle func(*net.TCPConn)
		class  results.Class
		text   string
	}{
		{"timeout", func(c *net.TCPConn) { time.Sleep(time.Second) }, results.Timeout, "i/o timeout"},
		{"reset", func(c *net.TCPConn) { c.SetLinger(0) }, results.Reset, "connection reset by peer"},
		{"no-response", func(c *net.TCPConn) {}, results.NoResponse, "EOF"},
		{"truncated", func(c *net.TCPConn) {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
			c.SetLinger(0)
		}, results.Truncated, "connection reset by peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := handlingServer(t, tc.handle)
			res := run(t, Config{URL: url, Connections: 1, Requests: 1, Timeout: yd(300 * time.Millisecond)})
			ex := res.Exemplars[tc.class]
			if len(ex) != 1 {
				t.Fatalf("outcomes %q; want one %s", classCounts(res), tc.class)
			}
			if e := ex[0].Error; !strings.Contains(e, tc.text) || strings.Contains(e, "raw-read") ||
				(tc.text != "EOF" && !strings.HasPrefix(e, "read tcp 127.0.0.1:")) {
				t.Fatalf("exemplar error %q; want it to read as net.Conn.Read's, with %q", e, tc.text)
			}
		})
	}
}
