package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadResponseHead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		isHEAD  bool
		status  int
		framing Body
		cl      int64
		close   bool
		err     string
	}{
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", status: 200, framing: BodyLength, cl: 5},
		{in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", status: 200, framing: BodyChunked, cl: -1},
		{in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", status: 200, framing: BodyUntilClose, cl: -1},
		{in: "HTTP/1.0 200 OK\r\n\r\n", status: 200, framing: BodyUntilClose, cl: -1, close: true},
		{in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", status: 200, framing: BodyLength},
		{in: "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", status: 204, framing: BodyNone, cl: 9},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", isHEAD: true, status: 200, framing: BodyNone, cl: 9},
		{in: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", status: 103, framing: BodyNone, cl: -1},
		{in: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", status: 200, framing: BodyUntilClose, cl: -1, close: true},
		{in: "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", status: 200, framing: BodyLength, cl: 1},
		{in: "", err: "EOF"},
		{in: "HTTP/1.1 200 OK\r\nContent-Le", err: "unexpected EOF"},
		{in: "SSH-2.0-OpenSSH\r\n\r\n", err: "bad status line"},
		{in: "garbage without newline", err: `response does not start with "HTTP/1."`},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", err: "bad Content-Length"},
		{in: "HTTP/1.1 200 OK\r\nbad header\r\n\r\n", err: "bad header line"},
		{in: "HTTP/1.1 099 Low\r\n\r\n", err: "status 99 out of range"},
		{in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 200) + "\r\n\r\n", err: "larger than 100 bytes"},
	} {
		var h ResponseHead
		br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tc.in)), 64)
		err := ReadResponseHead(br, &h, 100)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v; want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || h.Status != tc.status || h.Framing(tc.isHEAD) != tc.framing || h.ContentLength != tc.cl || h.Close != tc.close {
			t.Errorf("%q: %+v framing %d, %v; want status %d framing %d cl %d close %v", tc.in, h, h.Framing(tc.isHEAD), err,
				tc.status, tc.framing, tc.cl, tc.close)
		}
		if !strings.HasPrefix(tc.in, string(h.Raw)) || !bytes.HasSuffix(h.Raw, []byte("\r\n\r\n")) {
			t.Errorf("%q: raw %q is not the head as it came", tc.in, h.Raw)
		}
	}
}

// fullWriter is a writer that fails after n bytes.
type fullWriter struct {
	bytes.Buffer
	n int
}

func (s *fullWriter) Write(p []byte) (int, error) {
	if s.Len()+len(p) > s.n {
		k := s.n - s.Len()
		s.Buffer.Write(p[:k])
		return k, errors.New("full")
	}
	return s.Buffer.Write(p)
}

func TestCopiers(t *testing.T) {
	t.Parallel()
	buf := make([]byte, 7) // smaller than the data: the copy loops
	body := strings.Repeat("0123456789", 10)
	reader := func(s string) *bufio.Reader { return bufio.NewReaderSize(strings.NewReader(s), 16) }

	var out bytes.Buffer
	if n, err := CopyN(&out, reader(body+"next"), 100, buf); n != 100 || err != nil || out.String() != body {
		t.Errorf("CopyN: %d %v %q", n, err, out.String())
	}
	out.Reset()
	if n, err := CopyN(&out, reader(body[:40]), 100, buf); n != 40 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("CopyN short input: %d %v", n, err)
	}
	w := &fullWriter{n: 30}
	if n, err := CopyN(w, reader(body), 100, buf); n != 30 || !errors.As(err, new(*WriteError)) {
		t.Errorf("CopyN failing writer: %d %v; want a *WriteError after 30", n, err)
	}
	out.Reset()
	if n, err := CopyUntilEOF(&out, reader(body), -1, buf); n != 100 || err != nil || out.String() != body {
		t.Errorf("CopyUntilEOF: %d %v", n, err)
	}
	out.Reset()
	if n, err := CopyUntilEOF(&out, reader(body), 15, buf); n != 15 || err != nil || out.String() != body[:15] {
		t.Errorf("CopyUntilEOF limit: %d %v %q", n, err, out.String())
	}

	chunked := "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT"
	out.Reset()
	r := reader(chunked)
	if res, err := CopyChunked(&out, r, -1, false, 100, buf); err != nil || !res.Ended || res.Payload != 11 ||
		out.String() != strings.TrimSuffix(chunked, "NEXT") {
		t.Errorf("CopyChunked whole: %+v %v %q", res, err, out.String())
	}
	if rest, _ := io.ReadAll(r); string(rest) != "NEXT" {
		t.Errorf("CopyChunked read past the body: left %q", rest)
	}
	out.Reset()
	if res, err := CopyChunked(&out, reader(chunked), 7, false, 100, buf); err != nil || res.Ended || res.Payload != 7 ||
		out.String() != "5;ext=1\r\nhello\r\n6\r\n w" {
		t.Errorf("CopyChunked cut at 7: %+v %v %q", res, err, out.String())
	}
	out.Reset()
	if res, err := CopyChunked(&out, reader(chunked), 1000, true, 100, buf); err != nil || !res.Ended || res.Payload != 11 ||
		out.String() != "5;ext=1\r\nhello\r\n6\r\n world\r\n" {
		t.Errorf("CopyChunked holding the last chunk: %+v %v %q", res, err, out.String())
	}
	for in, want := range map[string]string{
		"zz\r\n":       "invalid chunk size",
		"5\r\nhelloXX": "not followed by CRLF",
		"5\r\nhel":     "unexpected EOF",
		"0\r\n" + "X: " + strings.Repeat("y", 200) + "\r\n\r\n": "trailer section too large",
	} {
		if _, err := CopyChunked(io.Discard, reader(in), -1, false, 100, buf); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CopyChunked(%q): %v; want %q", in, err, want)
		}
	}
}

func FuzzReadResponseHead(f *testing.F) {
	for _, s := range []string{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.0 101 X\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var h ResponseHead
		br := bufio.NewReaderSize(bytes.NewReader(in), 32)
		if err := ReadResponseHead(br, &h, 256); err != nil {
			return
		}
		if !bytes.HasPrefix(in, h.Raw) || h.Status < 100 || h.Status > 999 {
			t.Fatalf("head %q of %q: status %d", h.Raw, in, h.Status)
		}
		if h.Framing(false) == BodyChunked {
			CopyChunked(io.Discard, br, -1, false, 256, make([]byte, 8))
		}
	})
}
