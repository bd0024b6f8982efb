package faultserver

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestIdleCloseFiresOnTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, close, want string
		fin, rst          uint64
	}{
		{"fin", "fin", "EOF", 1, 0},
		{"rst", "rst", "RST", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const timeout = 150 * time.Millisecond
			s, addr := startServer(t, withFaults(t, "idle-close:timeout=150ms,close="+tc.close))
			c := dial(t, addr)
			send(t, c, getReq)
			if got := readN(t, c, len(okResponse)); string(got) != okResponse {
				t.Fatalf("response %q", got)
			}
			responded := time.Now()
			rest, err := readUntilEnd(t, c, 2*time.Second)
			elapsed := time.Since(responded)
			if len(rest) != 0 || ending(err) != tc.want {
				t.Fatalf("after the response got %q and %s, want nothing and %s", rest, ending(err), tc.want)
			}
			// The client starts its clock a little after the server does, so it can only see
			// the close early by that much. Late is bounded loosely: under the race detector
			// on a loaded machine a goroutine can wait tens of milliseconds to run, and what
			// this guards against is a coarse ticker (a close up to a tick late) or a timer
			// counted from the wrong moment.
			if d := elapsed - timeout; d < -10*time.Millisecond || d > 60*time.Millisecond {
				t.Fatalf("closed after %v idle, want %v (-10ms, +60ms)", elapsed, timeout)
			}
			waitStats(t, s, fmt.Sprintf("1 idle-close, server fin %d rst %d, 1 response", tc.fin, tc.rst), func(st Stats) bool {
				return st.Faults["idle-close"] == 1 && st.Closes.ServerFIN == tc.fin && st.Closes.ServerRST == tc.rst &&
					st.ResponsesCompleted == 1
			})
			// The event says how long the connection sat idle when it was closed — not how
			// long it sat before its last request (a few hundred µs after the accept here),
			// which it said before.
			ev, _ := s.FaultEvents(time.Time{})
			if len(ev) != 1 || ev[0].Kind != "idle-close" || ev[0].Request != 1 ||
				time.Duration(ev[0].IdleUs)*time.Microsecond < timeout || time.Duration(ev[0].IdleUs)*time.Microsecond > elapsed+10*time.Millisecond {
				t.Errorf("events %+v; want one idle-close after request 1, idle %v to %v", ev, timeout, elapsed+10*time.Millisecond)
			}
		})
	}
}

func TestIdleCloseJitterAndNth(t *testing.T) {
	t.Parallel()
	// nth=2: only the idle period after the 2nd response is cut short.
	s, addr := startServer(t, withFaults(t, "idle-close:timeout=50ms,nth=2"))
	c := dial(t, addr)
	send(t, c, getReq)
	readN(t, c, len(okResponse))
	time.Sleep(120 * time.Millisecond) // longer than the timeout: the first idle period is not selected
	send(t, c, getReq)
	readN(t, c, len(okResponse))
	start := time.Now()
	if _, err := readUntilEnd(t, c, 2*time.Second); ending(err) != "EOF" {
		t.Fatalf("want EOF after the 2nd response, got %s", ending(err))
	}
	// Late is bounded loosely, as above (a loaded machine under -race); what this tells
	// apart is the fault's 50 ms close from no close at all (2 s).
	if el := time.Since(start); el > 150*time.Millisecond {
		t.Fatalf("closed after %v, want ~50ms", el)
	}
	waitStats(t, s, "one idle-close", func(st Stats) bool { return st.Faults["idle-close"] == 1 })

	f := &IdleClose{Timeout: 100e6, Jitter: 20e6}
	rng := newTestRand()
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := f.period(rng)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 80*time.Millisecond || hi > 120*time.Millisecond || hi-lo < 30*time.Millisecond {
		t.Fatalf("jittered timeouts spread over [%v, %v], want within and across 100ms ± 20ms", lo, hi)
	}
}

func TestCloseOnReuse(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, withFaults(t, "close-on-reuse:min-idle=30ms"))
	c := dial(t, addr)
	// A fresh connection is never touched.
	send(t, c, getReq)
	if got := readN(t, c, len(okResponse)); string(got) != okResponse {
		t.Fatalf("first response %q", got)
	}
	// Reused but idle for less than min-idle: served.
	send(t, c, getReq)
	readN(t, c, len(okResponse))
	// Reused after min-idle: the request is read, nothing comes back, the connection ends.
	time.Sleep(50 * time.Millisecond)
	send(t, c, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
	got, err := readUntilEnd(t, c, 2*time.Second)
	if len(got) != 0 || ending(err) != "EOF" {
		t.Fatalf("got %q and %s, want no bytes and EOF (the whole request was read, so a clean FIN)", got, ending(err))
	}
	st := waitStats(t, s, "one close-on-reuse", func(st Stats) bool { return st.Faults["close-on-reuse"] == 1 })
	if st.RequestsRead != 3 || st.ResponsesCompleted != 2 || st.Closes.ServerFIN != 1 || st.Closes.ServerRST != 0 {
		t.Fatalf("stats %+v: want 3 requests read, 2 responses, 1 server FIN", st)
	}
}

func TestCloseOnReuseAfterBytesResets(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, withFaults(t, "close-on-reuse:after-bytes=4"))
	c := dial(t, addr)
	send(t, c, getReq)
	readN(t, c, len(okResponse))
	send(t, c, getReq)
	got, err := readUntilEnd(t, c, 2*time.Second)
	// Only 4 of the request's bytes were read; the rest sat unread, so Linux sent RST.
	if len(got) != 0 || ending(err) != "RST" {
		t.Fatalf("got %q and %s, want no bytes and RST", got, ending(err))
	}
	st := waitStats(t, s, "fault", func(st Stats) bool { return st.Faults["close-on-reuse"] == 1 })
	if st.Closes.ServerRST != 1 || st.RequestsRead != 1 || st.RequestsStarted != 2 {
		t.Fatalf("stats %+v: want 1 server RST, 1 request read, 2 started", st)
	}
}

func TestFinMidRequestExactBytes(t *testing.T) {
	t.Parallel()
	req := "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789"
	for _, tc := range []struct {
		name     string
		after    int
		want     string
		fin, rst uint64
	}{
		// Reading exactly the whole request leaves nothing unread: a clean FIN.
		{"all bytes read: FIN", len(req), "EOF", 1, 0},
		// One byte short: that byte is unread at close, so Linux sends RST instead.
		{"one byte unread: RST", len(req) - 1, "RST", 0, 1},
		{"mid head: RST", 10, "RST", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, withFaults(t, fmt.Sprintf("fin-mid-request:after-bytes=%d", tc.after)))
			c := dial(t, addr)
			send(t, c, req)
			got, err := readUntilEnd(t, c, 2*time.Second)
			if len(got) != 0 || ending(err) != tc.want {
				t.Fatalf("got %q and %s, want no bytes and %s", got, ending(err), tc.want)
			}
			st := waitStats(t, s, "fault", func(st Stats) bool { return st.Faults["fin-mid-request"] == 1 })
			if st.Closes.ServerFIN != tc.fin || st.Closes.ServerRST != tc.rst || st.ResponsesCompleted != 0 {
				t.Fatalf("stats %+v: want server fin %d rst %d, no response", st, tc.fin, tc.rst)
			}
		})
	}
}

func TestFinMidRequestBreaksALargeUpload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		spec      string
		writeFail bool // the client's upload fails (RST) rather than completing
	}{
		{"close", "fin-mid-request:after-bytes=1000", true},
		{"half-close drains", "fin-mid-request:after-bytes=1000,half-close=true", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, withFaults(t, tc.spec))
			c := dial(t, addr)
			const size = 8 << 20 // larger than any socket buffer, so the close lands mid-upload
			head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", size)
			send(t, c, head)
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, werr := c.Write(make([]byte, size))
			if (werr != nil) != tc.writeFail {
				t.Fatalf("upload error = %v, want failure: %v", werr, tc.writeFail)
			}
			got, err := readUntilEnd(t, c, 3*time.Second)
			if len(got) != 0 {
				t.Fatalf("got %d response bytes, want none", len(got))
			}
			if !tc.writeFail && ending(err) != "EOF" {
				t.Fatalf("half-close: read ended with %s, want EOF", ending(err))
			}
			st := waitStats(t, s, "fault", func(st Stats) bool { return st.Faults["fin-mid-request"] == 1 })
			if tc.writeFail && st.Closes.ServerRST != 1 || !tc.writeFail && st.Closes.ServerFIN != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestRSTHeaders(t *testing.T) {
	t.Parallel()
	for _, after := range []int{0, 5, 17, 40, 1000} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, withFaults(t, fmt.Sprintf("rst-headers:after-bytes=%d", after)))
			c := dial(t, addr)
			send(t, c, getReq)
			got, err := readUntilEnd(t, c, 2*time.Second)
			head := okResponse[:len(okResponse)-2]
			want := head[:min(after, len(head))]
			if string(got) != want || ending(err) != "RST" {
				t.Fatalf("got %q and %s, want %q and RST", got, ending(err), want)
			}
			st := waitStats(t, s, "fault", func(st Stats) bool { return st.Faults["rst-headers"] == 1 })
			if st.Closes.ServerRST != 1 || st.ResponsesCompleted != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// Over TLS an RST fault resets the TCP connection under the session: the client meets the
// reset, not a TLS close_notify (a clean end) sent before it.
func TestRSTHeadersOverTLS(t *testing.T) {
	t.Parallel()
	_, _, tlsAddr := startServerTLS(t, withFaults(t, "rst-headers:after-bytes=17"), true)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send(t, c, getReq)
	got, err := readUntilEnd(t, c, 2*time.Second)
	if want := okResponse[:17]; string(got) != want || ending(err) != "RST" {
		t.Fatalf("got %q and %s, want %q and RST", got, ending(err), want)
	}
}

func TestCutBody(t *testing.T) {
	t.Parallel()
	payload := Payload(100)
	clHead := "HTTP/1.1 200 OK\r\nServer: gatecrash\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
	chHead := "HTTP/1.1 200 OK\r\nServer: gatecrash\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct {
		name, spec, want, end string
	}{
		{"content-length fin", "cut-body:body-size=100,after-bytes=30", clHead + string(payload[:30]), "EOF"},
		{"content-length rst", "cut-body:body-size=100,after-bytes=30,close=rst", clHead + string(payload[:30]), "RST"},
		{"chunked: inside the chunk, no last chunk", "cut-body:body-size=100,after-bytes=30,chunked=true",
			chHead + "64\r\n" + string(payload[:30]), "EOF"},
		{"nothing of the body", "cut-body:body-size=100,after-bytes=0", clHead, "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, withFaults(t, tc.spec))
			c := dial(t, addr)
			send(t, c, getReq)
			got, err := readUntilEnd(t, c, 2*time.Second)
			if string(got) != tc.want || ending(err) != tc.end {
				t.Fatalf("got %q and %s\nwant %q and %s", got, ending(err), tc.want, tc.end)
			}
			st := waitStats(t, s, "fault", func(st Stats) bool { return st.Faults["cut-body"] == 1 })
			if st.ResponsesCompleted != 0 {
				t.Fatalf("a cut response must not count as completed: %+v", st)
			}
		})
	}
}

func TestNoResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ close, want string }{{"fin", "EOF"}, {"rst", "RST"}} {
		t.Run(tc.close, func(t *testing.T) {
			t.Parallel()
			s, addr := startServer(t, withFaults(t, "no-response:close="+tc.close))
			c := dial(t, addr)
			send(t, c, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
			got, err := readUntilEnd(t, c, 2*time.Second)
			if len(got) != 0 || ending(err) != tc.want {
				t.Fatalf("got %q and %s, want nothing and %s", got, ending(err), tc.want)
			}
			st := waitStats(t, s, "fault", func(st Stats) bool { return st.Faults["no-response"] == 1 })
			if st.RequestsRead != 1 || st.ResponsesCompleted != 0 {
				t.Fatalf("stats %+v: the whole request is read, nothing answered", st)
			}
		})
	}
}

// countingConn counts the bytes a TLS client receives, to prove no ServerHello came.
type countingConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

func TestTLSStall(t *testing.T) {
	t.Parallel()
	s, _, tlsAddr := startServerTLS(t, withFaults(t, "tls-stall"), true)
	cc := &countingConn{Conn: dial(t, tlsAddr)}
	tc := tls.Client(cc, &tls.Config{InsecureSkipVerify: true})
	cc.SetDeadline(time.Now().Add(300 * time.Millisecond))
	start := time.Now()
	err := tc.Handshake()
	if ending(err) != "timeout" {
		t.Fatalf("handshake ended with %v, want the client's timeout", err)
	}
	if el := time.Since(start); el < 290*time.Millisecond {
		t.Fatalf("handshake gave up after %v, before the client's deadline", el)
	}
	if n := cc.read.Load(); n != 0 {
		t.Fatalf("client received %d bytes; a stalled server must send no ServerHello", n)
	}
	cc.Close()
	st := waitStats(t, s, "stall and peer close", func(st Stats) bool {
		return st.Faults["tls-stall"] == 1 && st.Closes.PeerFIN == 1
	})
	if st.TLSHandshakes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTLSStallWithDelayThenServes(t *testing.T) {
	t.Parallel()
	// The delay is long next to a handshake: an undelayed one took 225 ms in CI (race
	// detector, every package's tests at once) when the delay was 150 ms.
	s, _, tlsAddr := startServerTLS(t, withFaults(t, "tls-stall:delay=1s,every=2"), true)
	for i, wantSlow := range []bool{false, true} {
		start := time.Now()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		took := time.Since(start)
		if slow := took >= time.Second; slow != wantSlow {
			t.Fatalf("connection %d: handshake took %v, want delayed: %v (every=2)", i, took, wantSlow)
		}
		send(t, c, getReq)
		if got := readN(t, c, len(okResponse)); string(got) != okResponse {
			t.Fatalf("response over TLS %q", got)
		}
		c.Close()
	}
	waitStats(t, s, "1 tls-stall, 2 handshakes", func(st Stats) bool {
		return st.Faults["tls-stall"] == 1 && st.TLSHandshakes == 2
	})
}

func TestDelay(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, withFaults(t, "delay:head-delay=120ms"))
	c := dial(t, addr)
	start := time.Now()
	send(t, c, getReq)
	first := readN(t, c, 1)
	if el := time.Since(start); el < 120*time.Millisecond || el > 200*time.Millisecond {
		t.Fatalf("first byte after %v, want ~120ms", el)
	}
	if rest := readN(t, c, len(okResponse)-1); string(first)+string(rest) != okResponse {
		t.Fatalf("delayed response %q", string(first)+string(rest))
	}
	waitStats(t, s, "1 delay, 1 response", func(st Stats) bool {
		return st.Faults["delay"] == 1 && st.ResponsesCompleted == 1
	})
}

func TestDelayDripsBody(t *testing.T) {
	t.Parallel()
	cfg := withFaults(t, "delay:body-rate=1000")
	cfg.Response.BodySize = 200 // 200 bytes at 1000 B/s: ~200ms in 50ms steps
	_, addr := startServer(t, cfg)
	c := dial(t, addr)
	send(t, c, getReq)
	head := "HTTP/1.1 200 OK\r\nServer: gatecrash\r\nContent-Type: text/plain\r\nContent-Length: 200\r\n\r\n"
	if got := readN(t, c, len(head)); string(got) != head {
		t.Fatalf("head %q", got)
	}
	start := time.Now()
	body := readN(t, c, 200)
	if el := time.Since(start); el < 180*time.Millisecond || el > 400*time.Millisecond {
		t.Fatalf("200-byte body at 1000 B/s took %v, want ~200ms", el)
	}
	if !bytes.Equal(body, Payload(200)) {
		t.Fatalf("dripped body differs")
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, withFaults(t, "status:code=503"))
	c := dial(t, addr)
	send(t, c, getReq+getReq)
	want := "HTTP/1.1 503 Service Unavailable\r\nServer: gatecrash\r\nContent-Type: text/plain\r\nContent-Length: 28\r\n\r\n" +
		"gatecrash status fault: 503\n"
	if got := readN(t, c, 2*len(want)); string(got) != want+want {
		t.Fatalf("got %q", got)
	}
	waitStats(t, s, "2 status faults, 2 responses", func(st Stats) bool {
		return st.Faults["status"] == 2 && st.ResponsesCompleted == 2
	})
}

func TestFaultChosenByHeader(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, DefaultConfig())
	for _, tc := range []struct {
		header, want, end string
	}{
		{"rst-headers;after-bytes=4", "HTTP", "RST"},
		{"no-response", "", "EOF"},
		{"status; code=418", "HTTP/1.1 418 I'm a teapot", "open"},
		{"fin-mid-request;after-bytes=5", "", "EOF"}, // the whole head was read before the header was seen
	} {
		c := dial(t, addr)
		send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: "+tc.header+"\r\n\r\n")
		got, err := readUntilEnd(t, c, 300*time.Millisecond)
		if !strings.HasPrefix(string(got), tc.want) || (tc.want == "" && len(got) > 0) ||
			(ending(err) != tc.end && !(tc.end == "open" && ending(err) == "timeout")) {
			t.Errorf("%s: got %q and %s, want %q... and %s", tc.header, got, ending(err), tc.want, tc.end)
		}
	}
	st := s.Stats()
	for _, k := range []string{"rst-headers", "no-response", "status", "fin-mid-request"} {
		if st.Faults[k] != 1 {
			t.Errorf("faults[%s] = %d, want 1 (%+v)", k, st.Faults[k], st.Faults)
		}
	}

	// A bad header is answered 400 with the reason, not silently ignored.
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: rst-headers;after_bytes=4\r\n\r\n")
	got, _ := readUntilEnd(t, c, time.Second)
	if !strings.HasPrefix(string(got), "HTTP/1.1 400 ") || !strings.Contains(string(got), `unknown field "after_bytes"`) {
		t.Fatalf("bad fault header answered %q", got)
	}
}

func TestHeaderChosenIdleClose(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, DefaultConfig())
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nX-Gatecrash-Fault: idle-close;timeout=60ms\r\n\r\n")
	readN(t, c, len(okResponse))
	start := time.Now()
	if _, err := readUntilEnd(t, c, 2*time.Second); ending(err) != "EOF" {
		t.Fatalf("want EOF, got %s", ending(err))
	}
	// Not before the timeout; after it by at most a scheduling delay (CI runs this beside a
	// dozen real proxies on two cores: 85 ms was seen once), far from the 2 s read bound.
	if el := time.Since(start); el < 50*time.Millisecond || el > 200*time.Millisecond {
		t.Fatalf("closed after %v, want ~60ms", el)
	}
	waitStats(t, s, "idle-close", func(st Stats) bool { return st.Faults["idle-close"] == 1 })
}

func TestSelectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		spec     string
		requests []string // paths, or "H" for a request with header X-Hit: yes
		want     string   // per request: s = status fault, . = normal
	}{
		{"every 3rd", "status:code=500,every=3", []string{"/", "/", "/", "/", "/", "/", "/"}, "..s..s."},
		{"nth on the connection", "status:code=500,nth=2", []string{"/", "/", "/"}, ".s."},
		{"path prefix", "status:code=500,match=/api", []string{"/", "/api/x", "/apix", "/ap"}, ".ss."},
		{"header present", "status:code=500,match=X-Hit", []string{"/", "H", "/"}, ".s."},
		{"header value", "status:code=500,match=X-Hit: yes", []string{"H", "/"}, "s."},
		{"probability 0", "status:code=500,probability=0", []string{"/", "/", "/"}, "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, addr := startServer(t, withFaults(t, tc.spec))
			c := dial(t, addr)
			var got strings.Builder
			for _, r := range tc.requests {
				if r == "H" {
					send(t, c, "GET / HTTP/1.1\r\nHost: t\r\nx-hit: yes\r\n\r\n")
				} else {
					send(t, c, "GET "+r+" HTTP/1.1\r\nHost: t\r\n\r\n")
				}
				line := readN(t, c, 12)
				if string(line) == "HTTP/1.1 500" {
					got.WriteByte('s')
					readN(t, c, len(status500)-12)
				} else {
					got.WriteByte('.')
					readN(t, c, len(okResponse)-12)
				}
			}
			if got.String() != tc.want {
				t.Fatalf("faults fell on %q, want %q", got.String(), tc.want)
			}
		})
	}
}

func TestProbabilityIsSeededAndRoughlyRight(t *testing.T) {
	t.Parallel()
	run := func() string {
		cfg := withFaults(t, "status:code=500,probability=0.3")
		cfg.Seed = 7
		_, addr := startServer(t, cfg)
		c := dial(t, addr)
		var pattern strings.Builder
		for range 400 {
			send(t, c, getReq)
			line := readN(t, c, 12)
			if string(line) == "HTTP/1.1 500" {
				pattern.WriteByte('s')
				readN(t, c, len(status500)-12)
			} else {
				pattern.WriteByte('.')
				readN(t, c, len(okResponse)-12)
			}
		}
		return pattern.String()
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("same seed, same connection order, different fault pattern:\n%s\n%s", a, b)
	}
	// 400 draws at p=0.3: mean 120, sd ~9.2; ±5 sd is a test that cannot flake but still fails
	// when probability is ignored or inverted.
	if n := strings.Count(a, "s"); n < 74 || n > 166 {
		t.Fatalf("%d of 400 requests faulted at probability 0.3", n)
	}
}

func TestFaultsInPriorityOrder(t *testing.T) {
	t.Parallel()
	// The first fault whose selector fires wins; the second takes what the first leaves.
	_, addr := startServer(t, withFaults(t, "status:code=500,match=/a", "status:code=501"))
	c := dial(t, addr)
	send(t, c, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
	if got := readN(t, c, 12); string(got) != "HTTP/1.1 500" {
		t.Fatalf("got %q", got)
	}
	c2 := dial(t, addr)
	send(t, c2, getReq)
	if got := readN(t, c2, 12); string(got) != "HTTP/1.1 501" {
		t.Fatalf("got %q", got)
	}
}

const status500 = "HTTP/1.1 500 Internal Server Error\r\nServer: gatecrash\r\nContent-Type: text/plain\r\n" +
	"Content-Length: 28\r\n\r\ngatecrash status fault: 500\n"

// newTestRand returns a deterministic random source for unit tests of fault parameters.
func newTestRand() *rand.Rand { return newRand(1, 1) }
