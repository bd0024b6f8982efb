package faultserver

import (
	"bufio"
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestProtocol(t *testing.T) {
	t.Parallel()
	closeResp := "HTTP/1.1 200 OK\r\nServer: gatecrash\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
	keep10 := "HTTP/1.1 200 OK\r\nServer: gatecrash\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
	for _, tc := range []struct {
		name string
		send string
		want string // everything the server sends
		end  string // how the connection ends: EOF, or "open" (still open after 200ms)
	}{
		{"keep-alive by default", getReq, okResponse, "open"},
		{"pipelined requests answered in order", getReq + "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n" + getReq,
			okResponse + okResponse + okResponse, "open"},
		{"Connection: close", "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", closeResp, "EOF"},
		{"HTTP/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n", closeResp, "EOF"},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", keep10, "open"},
		{"HEAD has no body", "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", okResponse[:len(okResponse)-2], "open"},
		{"leading empty line ignored", "\r\n" + getReq, okResponse, "open"},
		{"bare LF line endings", "GET / HTTP/1.1\nHost: t\n\n", okResponse, "open"},
		{"content-length body consumed", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + getReq,
			okResponse + okResponse, "open"},
		{"chunked body with extension and trailer consumed",
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: v\r\n\r\n" + getReq,
			okResponse + okResponse, "open"},
		{"malformed request line", "GARBAGE\r\n\r\n", "HTTP/1.1 400 Bad Request", "EOF"},
		{"bad header line", "GET / HTTP/1.1\r\nno colon here\r\n\r\n", "HTTP/1.1 400 Bad Request", "EOF"},
		{"obs-fold rejected", "GET / HTTP/1.1\r\nA: b\r\n  c\r\n\r\n", "HTTP/1.1 400 Bad Request", "EOF"},
		{"CL and TE together", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
			"HTTP/1.1 400 Bad Request", "EOF"},
		{"conflicting CL", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "HTTP/1.1 400 Bad Request", "EOF"},
		{"negative CL", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400 Bad Request", "EOF"},
		{"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HTTP/1.1 400 Bad Request", "EOF"},
		{"unknown transfer coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 Not Implemented", "EOF"},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported", "EOF"},
		{"unsupported expectation", "GET / HTTP/1.1\r\nExpect: magic\r\n\r\n", "HTTP/1.1 417 Expectation Failed", "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, addr := startServer(t, DefaultConfig())
			c := dial(t, addr)
			send(t, c, tc.send)
			got, err := readUntilEnd(t, c, 200*time.Millisecond)
			end := ending(err)
			if end == "timeout" {
				end = "open"
			}
			if !strings.HasPrefix(string(got), tc.want) || (end != tc.end) ||
				(strings.HasPrefix(tc.want, "HTTP/1.1 200") && string(got) != tc.want) {
				t.Fatalf("got %q, connection %s\nwant %q, connection %s", got, end, tc.want, tc.end)
			}
		})
	}
}

func TestExpect100Continue(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, DefaultConfig())
	c := dial(t, addr)
	send(t, c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	// The client must hear 100 Continue before it sends the body.
	cont := "HTTP/1.1 100 Continue\r\n\r\n"
	if got := readN(t, c, len(cont)); string(got) != cont {
		t.Fatalf("got %q, want %q", got, cont)
	}
	send(t, c, "hello")
	if got := readN(t, c, len(okResponse)); string(got) != okResponse {
		t.Fatalf("got %q", got)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Limits.MaxHeaderBytes = 1024
	cfg.Limits.HeaderTimeout = 100e6
	s, addr := startServer(t, cfg)

	t.Run("head too large: 431", func(t *testing.T) {
		c := dial(t, addr)
		send(t, c, "GET / HTTP/1.1\r\nX-Big: "+strings.Repeat("a", 2000)+"\r\n\r\n")
		got, err := readUntilEnd(t, c, time.Second)
		if !strings.HasPrefix(string(got), "HTTP/1.1 431 Request Header Fields Too Large\r\n") || ending(err) != "EOF" {
			t.Fatalf("got %q, %s", got, ending(err))
		}
	})
	t.Run("slowloris: 408 after the header timeout", func(t *testing.T) {
		c := dial(t, addr)
		start := time.Now()
		send(t, c, "GET / HTTP/1.1\r\nHost: t\r\n") // never finishes the head
		got, err := readUntilEnd(t, c, time.Second)
		if !strings.HasPrefix(string(got), "HTTP/1.1 408 Request Timeout\r\n") || ending(err) != "EOF" {
			t.Fatalf("got %q, %s", got, ending(err))
		}
		if el := time.Since(start); el < 90*time.Millisecond || el > 300*time.Millisecond {
			t.Fatalf("408 after %v, want ~100ms", el)
		}
	})
	t.Run("peer gone mid-head is counted, nothing sent", func(t *testing.T) {
		c := dial(t, addr)
		send(t, c, "GET / HTT")
		c.CloseWrite()
		got, err := readUntilEnd(t, c, time.Second)
		if len(got) != 0 || ending(err) != "EOF" {
			t.Fatalf("got %q, %s", got, ending(err))
		}
	})
	waitStats(t, s, "2 bad requests, 1 peer FIN", func(st Stats) bool {
		return st.BadRequests == 2 && st.Closes.PeerFIN == 1
	})
}

func TestServerIdleTimeout(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Limits.IdleTimeout = 80e6
	s, addr := startServer(t, cfg)
	c := dial(t, addr)
	send(t, c, getReq)
	readN(t, c, len(okResponse))
	start := time.Now()
	if _, err := readUntilEnd(t, c, time.Second); ending(err) != "EOF" {
		t.Fatalf("got %s", ending(err))
	}
	if el := time.Since(start); el < 70*time.Millisecond || el > 120*time.Millisecond {
		t.Fatalf("closed after %v, want ~80ms", el)
	}
	// The server's own keep-alive timeout is not a fault.
	waitStats(t, s, "server FIN, no fault", func(st Stats) bool { return st.Closes.ServerFIN == 1 && st.FaultsTotal() == 0 })
}

func TestPeerCloseCounted(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, DefaultConfig())
	c := dial(t, addr)
	send(t, c, getReq)
	readN(t, c, len(okResponse))
	c.Close()
	c2 := dial(t, addr)
	c2.SetLinger(0)
	c2.Close()
	waitStats(t, s, "1 peer FIN, 1 peer RST, none open", func(st Stats) bool {
		return st.Closes.PeerFIN == 1 && st.Closes.PeerRST == 1 && st.ConnectionsOpen == 0 && st.ConnectionsAccepted == 2
	})
}

// Not parallel: it counts the process's goroutines, which parallel tests would change.
func TestShutdownEndsBlockedConnections(t *testing.T) {
	s, err := New(withFaults(t, "delay:head-delay=1h"))
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	before := runtime.NumGoroutine()
	go func() { done <- s.Serve(ctx, ln) }()
	var conns []net.Conn
	for range 5 {
		c := dial(t, ln.Addr().String())
		send(t, c, getReq)
		conns = append(conns, c)
	}
	waitStats(t, s, "5 delayed requests", func(st Stats) bool { return st.Faults["delay"] == 5 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve still running 2s after cancel with requests blocked in a 1h delay")
	}
	for _, c := range conns {
		if _, err := readUntilEnd(t, c, time.Second); ending(err) != "EOF" {
			t.Fatalf("client saw %s, want EOF at shutdown", ending(err))
		}
	}
	if st := s.Stats(); st.ConnectionsOpen != 0 {
		t.Fatalf("%d connections still open after Serve returned", st.ConnectionsOpen)
	}
	// Serve returned only after its connection goroutines exited.
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after shutdown, %d before", n, before)
	}
}

func TestSetConfigAtRunTime(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, DefaultConfig())
	c := dial(t, addr)
	send(t, c, getReq)
	readN(t, c, len(okResponse))
	if err := s.SetConfig(withFaults(t, "status:code=500")); err != nil {
		t.Fatal(err)
	}
	send(t, c, getReq)
	if got := readN(t, c, 12); string(got) != "HTTP/1.1 500" {
		t.Fatalf("after SetConfig got %q", got)
	}
	bad := DefaultConfig()
	bad.Response.Status = 42
	if err := s.SetConfig(bad); err == nil {
		t.Fatal("an invalid config was accepted")
	}
	if KindOf(s.Config().Faults[0]) != "status" {
		t.Fatal("a rejected config replaced the plan")
	}
}

func TestChunkedResponse(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Response.Chunked = true
	cfg.Response.BodySize = 10000 // two chunks: 8192 + 1808
	_, addr := startServer(t, cfg)
	c := dial(t, addr)
	send(t, c, getReq)
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var body []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
		if strings.HasPrefix(line, "Content-Length") {
			t.Fatal("chunked response carries Content-Length")
		}
	}
	for _, size := range []int{0x2000, 0x710, 0} {
		line, _ := br.ReadString('\n')
		var n int
		if _, err := fmtSscanHex(line, &n); err != nil || n != size {
			t.Fatalf("chunk size line %q, want %x", line, size)
		}
		chunk := make([]byte, n+2)
		io.ReadFull(br, chunk)
		body = append(body, chunk[:n]...)
	}
	if string(body) != string(Payload(10000)) {
		t.Fatal("chunked body differs from the payload")
	}
}
