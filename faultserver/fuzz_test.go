package faultserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"github.com/gatecrash/gatecrash/internal/http1"
	"io"
	"net"
	"testing"
	"time"
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

func (c *scriptConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *scriptConn) Write(b []byte) (int, error)      { c.written += len(b); return len(b), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

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
		before := s.Stats()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sc := &scriptConn{r: bytes.NewReader(in)}
		c := s.newConn(ctx, sc)
		c.serve()
		if ctx.Err() != nil {
			t.Fatal("connection loop did not end with its input")
		}
		after := s.Stats()
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
