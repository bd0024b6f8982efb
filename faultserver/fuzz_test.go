package faultserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gatecrash/gatecrash/internal/http1"
)

var fuzzSeeds = []string{
	getReq,
	"POST /u HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n",
	"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	"\r\n\r\nGET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n",
}

func FuzzReadHead(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Request
		err := readHead(bufio.NewReaderSize(bytes.NewReader(in), 16), &r, 512)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, errIncomplete) && !errors.Is(err, errEOFBeforeHead) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if r.HeadBytes > len(in) || r.HeadBytes > 512 {
			t.Fatalf("HeadBytes %d for %d input bytes", r.HeadBytes, len(in))
		}
		if !http1.IsToken(r.Method) || len(r.Target) == 0 || r.Minor > 1 {
			t.Fatalf("accepted a bad request line: %q %q 1.%d", r.Method, r.Target, r.Minor)
		}
		if r.Chunked && r.ContentLength >= 0 {
			t.Fatal("accepted both chunked and Content-Length")
		}
	})
}

// scriptConn is a net.Conn that reads a fixed input and discards what is written. Deadlines
// are ignored: the input's end (EOF) is what ends the connection.
type scriptConn struct {
	r       io.Reader
	written int
}

func (c *scriptConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *scriptConn) Write(b []byte) (int, error) { c.written += len(b); return len(b), nil }
func (c *scriptConn) Close() error                { return nil }
func (c *scriptConn) LocalAddr() net.Addr         { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr        { return scriptAddr }
func (c *scriptConn) SetDeadline(time.Time) error { return nil }

// scriptAddr is every scriptConn's peer (one value: a lookup allocates nothing).
var scriptAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// serveScript runs one connection's loop on the client bytes in, which must end it, and
// returns the server's counters before and after.
func serveScript(t *testing.T, s *Server, in []byte) (before, after Stats) {
	before = s.Stats()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.newConn(ctx, &scriptConn{r: bytes.NewReader(in)}).serve()
	if ctx.Err() != nil {
		t.Fatal("connection loop did not end with its input")
	}
	return before, s.Stats()
}

// FuzzServeConn runs the whole connection loop on arbitrary client bytes: it must never
// panic, must end when the input ends, and every request started must be accounted for.
func FuzzServeConn(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	off := false
	cfg := DefaultConfig()
	cfg.FaultHeader = &off // per-request faults can wait for an hour; fuzzed separately below
	cfg.Limits.MaxHeaderBytes = 1024
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		before, after := serveScript(t, s, in)
		started := after.RequestsStarted - before.RequestsStarted
		answered := (after.ResponsesCompleted - before.ResponsesCompleted) + (after.BadRequests - before.BadRequests)
		if answered > started || started > answered+1 {
			t.Fatalf("%d requests started, %d answered: at most the last may go unanswered", started, answered)
		}
	})
}

func FuzzParseFaultSpec(f *testing.F) {
	for _, s := range []string{"idle-close:timeout=5s,jitter=1ms", "rst-headers;after-bytes=3", "cut-body:chunked=true",
		"status:code=503,every=2,match=/x", "delay:head-delay=1s,body-rate=5", "tls-stall:delay=2s,probability=0.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		fromHeader := func(v string) (Fault, error) { return parseFaultHeader(v, DefaultConfig().HeaderLimits) }
		for _, parse := range []func(string) (Fault, error){ParseFaultSpec, fromHeader} {
			fault, err := parse(spec)
			if err == nil && validateFault(fault) != nil {
				t.Fatalf("%q parsed into an invalid fault", spec)
			}
		}
	})
}

// h2Seeds are HTTP/2 client byte streams: the preface and valid frames, for the fuzzer to
// mutate.
func h2Seeds(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	build := func(write func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer)) {
		var b, hb bytes.Buffer
		b.WriteString(http2.ClientPreface)
		fr := http2.NewFramer(&b, nil)
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
		write(fr, hpack.NewEncoder(&hb), &hb)
		out = append(out, b.Bytes())
	}
	headers := func(enc *hpack.Encoder, hb *bytes.Buffer, method string) []byte {
		hb.Reset()
		for _, kv := range [][2]string{{":method", method}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}} {
			enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		return hb.Bytes()
	}
	build(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: headers(enc, hb, "GET"), EndHeaders: true, EndStream: true})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: headers(enc, hb, "GET"), EndHeaders: true, EndStream: true})
	})
	build(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: headers(enc, hb, "POST"), EndHeaders: true})
		fr.WriteData(1, false, []byte("hello"))
		fr.WriteWindowUpdate(0, 1000)
		fr.WritePing(false, [8]byte{1})
		fr.WriteData(1, true, []byte("world"))
		fr.WriteRSTStream(5, http2.ErrCodeCancel)
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	})
	build(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		block := headers(enc, hb, "GET")
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:3], EndStream: true})
		fr.WriteContinuation(1, true, block[3:])
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2, BlockFragment: block, EndHeaders: true, EndStream: true})
	})
	return out
}

// FuzzServeH2 runs an HTTP/2 connection on arbitrary client bytes after the preface: it must
// never panic, must end when the input ends, and no stream may be answered or reset that was
// not read, nor read that was not started.
func FuzzServeH2(f *testing.F) {
	for _, s := range h2Seeds(f) {
		f.Add(s)
	}
	cfg := withFaults(f, "rst-stream:every=3")
	cfg.HTTP2 = true
	cfg.Response.BodySize = 70_000 // past the default window: flow control is exercised
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		before, after := serveScript(t, s, in)
		started := after.RequestsStarted - before.RequestsStarted
		read := after.RequestsRead - before.RequestsRead
		ended := (after.ResponsesCompleted - before.ResponsesCompleted) + (after.Faults["rst-stream"] - before.Faults["rst-stream"])
		if ended > read || read > started {
			t.Fatalf("%d streams started, %d read, %d answered or reset", started, read, ended)
		}
	})
}
