package faultserver

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func fmtSscanHex(s string, n *int) (int, error) { return fmt.Sscanf(strings.TrimSpace(s), "%x", n) }

func TestReadHead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		in     string
		method string
		target string
		minor  int
		cl     int64
		chunk  bool
		close  bool
		exp    bool
		status int // ParseError status, 0 for success
		err    error
	}{
		{name: "simple", in: "GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", target: "/a?b", minor: 1, cl: -1},
		{name: "1.0 closes", in: "GET / HTTP/1.0\r\n\r\n", method: "GET", target: "/", cl: -1, close: true},
		{name: "1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", method: "GET", target: "/", cl: -1},
		{name: "connection list", in: "GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", method: "GET", target: "/", minor: 1, cl: -1, close: true},
		{name: "content-length", in: "POST / HTTP/1.1\r\ncontent-length:  12 \r\n\r\n", method: "POST", target: "/", minor: 1, cl: 12},
		{name: "same CL twice", in: "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", method: "POST", target: "/", minor: 1, cl: 3},
		{name: "chunked", in: "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", method: "POST", target: "/", minor: 1, cl: -1, chunk: true},
		{name: "expect", in: "PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", method: "PUT", target: "/", minor: 1, cl: 1, exp: true},
		{name: "absolute form", in: "GET http://h/x HTTP/1.1\r\n\r\n", method: "GET", target: "http://h/x", minor: 1, cl: -1},
		{name: "space in target", in: "GET /a b HTTP/1.1\r\n\r\n", status: 400},
		{name: "two spaces", in: "GET  / HTTP/1.1\r\n\r\n", status: 400},
		{name: "lower-case version", in: "GET / http/1.1\r\n\r\n", status: 400},
		{name: "HTTP/1.2", in: "GET / HTTP/1.2\r\n\r\n", status: 505},
		{name: "HTTP/3.0", in: "GET / HTTP/3.0\r\n\r\n", status: 505},
		{name: "method with slash", in: "G/T / HTTP/1.1\r\n\r\n", status: 400},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", status: 400},
		{name: "empty header name", in: "GET / HTTP/1.1\r\n: x\r\n\r\n", status: 400},
		{name: "CL with plus", in: "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", status: 400},
		{name: "CL too long", in: "POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", status: 400},
		{name: "TE twice", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400},
		{name: "TE list", in: "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", status: 501},
		{name: "too large", in: "GET / HTTP/1.1\r\nA: " + strings.Repeat("x", 300) + "\r\n\r\n", status: 431},
		{name: "cut short", in: "GET / HTTP/1.1\r\nHost", err: errIncomplete},
		{name: "cut after request line", in: "GET / HTTP/1.1\r\n", err: errIncomplete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r Request
			err := readHead(bufio.NewReaderSize(strings.NewReader(tc.in), 16), &r, 256)
			var pe *ParseError
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			case tc.status != 0:
				if !errors.As(err, &pe) || pe.Status != tc.status {
					t.Fatalf("err = %v, want a %d ParseError", err, tc.status)
				}
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			default:
				if string(r.Method) != tc.method || string(r.Target) != tc.target || r.Minor != tc.minor ||
					r.ContentLength != tc.cl || r.Chunked != tc.chunk || r.Close != tc.close || r.Expect100 != tc.exp {
					t.Fatalf("parsed %q %q 1.%d cl=%d chunked=%v close=%v expect=%v", r.Method, r.Target, r.Minor,
						r.ContentLength, r.Chunked, r.Close, r.Expect100)
				}
				if r.HeadBytes != len(tc.in) {
					t.Fatalf("HeadBytes = %d, want %d", r.HeadBytes, len(tc.in))
				}
			}
		})
	}
}

func TestRequestHeaderLookupAndMatch(t *testing.T) {
	t.Parallel()
	var r Request
	in := "GET /api/v1?x=1 HTTP/1.1\r\nHost: h\r\nX-Tenant:  blue \r\n\r\n"
	if err := readHead(bufio.NewReader(strings.NewReader(in)), &r, 1024); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Header("x-tenant"); !ok || string(v) != "blue" {
		t.Fatalf("Header(x-tenant) = %q, %v", v, ok)
	}
	if _, ok := r.Header("X-Missing"); ok {
		t.Fatal("found a header that is not there")
	}
	for m, want := range map[string]bool{
		"/api": true, "/api/v1": true, "/api/v1?": false, "/apx": false,
		"X-Tenant": true, "x-tenant: blue": true, "X-Tenant: red": false, "X-Other": false,
	} {
		if got := r.matches(m); got != want {
			t.Errorf("matches(%q) = %v, want %v", m, got, want)
		}
	}
}
