package loadgen

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		in     string
		head   bool // a HEAD request
		status int
		close  bool
		err    error  // wanted error (errors.Is), nil for success
		rest   string // what must be left unread
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokNEXT", status: 200, rest: "NEXT"},
		{name: "chunked with trailer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nT: 1\r\n\r\nNEXT", status: 200, rest: "NEXT"},
		{name: "interim 100 then final", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", status: 201},
		{name: "no reason phrase", in: "HTTP/1.1 204\r\n\r\nNEXT", status: 204, rest: "NEXT"},
		{name: "304 has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nNEXT", status: 304, rest: "NEXT"},
		{name: "HEAD has no body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nNEXT", head: true, status: 200, rest: "NEXT"},
		{name: "close-delimited body", in: "HTTP/1.1 200 OK\r\n\r\nall of this", status: 200, close: true},
		{name: "Connection: close", in: "HTTP/1.1 503 x\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", status: 503, close: true},
		{name: "HTTP/1.0 closes", in: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, close: true},
		{name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", status: 200},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", err: io.ErrUnexpectedEOF},
		{name: "missing last chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", err: io.ErrUnexpectedEOF},
		{name: "cut mid-chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nok", err: io.ErrUnexpectedEOF},
		{name: "cut mid-head", in: "HTTP/1.1 200 OK\r\nContent-Le", err: io.EOF},
		{name: "nothing", in: "", err: io.EOF},
		{name: "HTTP/0.9 style garbage", in: "hello world\r\n", err: errMalformed},
		{name: "garbage without a newline", in: "SSH-2.0", err: errMalformed},
		{name: "one wrong byte", in: "X", err: errMalformed},
		{name: "a good prefix, then the end", in: "HTT", err: io.EOF},
		{name: "lower-case version", in: "http/1.1 200 OK\r\n\r\n", err: errMalformed},
		{name: "HTTP/2", in: "HTTP/2 200\r\n\r\n", err: errMalformed},
		{name: "two-digit status", in: "HTTP/1.1 20 OK\r\n\r\n", err: errMalformed},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", err: errMalformed},
		{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", err: errMalformed},
		{name: "status line longer than the buffer", in: "HTTP/1.1 200 " + strings.Repeat("x", 100) + "\r\n\r\n", err: errMalformed},
		{name: "chunk data without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n", err: errMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 64)
			var r response
			err := readResponseHead(br, &r)
			if err == nil {
				err = readBody(br, &r, tc.head)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(br)
			if r.status != tc.status || r.close != tc.close || string(rest) != tc.rest {
				t.Fatalf("status %d close %v rest %q; want %d %v %q", r.status, r.close, rest, tc.status, tc.close, tc.rest)
			}
		})
	}
}

// A server that answers bytes that cannot start a status line, without a newline, and keeps
// the connection open: the client must call it malformed at once, not wait for its timeout.
func TestMalformedWithoutNewlineOnOpenConnection(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("SSH-2.0-OpenSSH")) // and never closes
	done := make(chan error, 1)
	go func() {
		var r response
		done <- readResponseHead(bufio.NewReader(pr), &r)
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errMalformed) {
			t.Fatalf("err = %v, want malformed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting for a newline after 10s: malformed bytes were not recognised")
	}
}
