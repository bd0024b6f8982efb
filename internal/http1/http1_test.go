package http1

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseNumbers(t *testing.T) {
	t.Parallel()
	dec := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1024", 1024, true}, {"999999999999999999", 999999999999999999, true},
		{"", 0, false}, {"1234567890123456789", 0, false}, {"-1", 0, false}, {"+1", 0, false},
		{"1 ", 0, false}, {"0x10", 0, false},
	}
	for _, c := range dec {
		if n, ok := ParseDecimal([]byte(c.in)); n != c.want || ok != c.ok {
			t.Errorf("ParseDecimal(%q) = %d, %v; want %d, %v", c.in, n, ok, c.want, c.ok)
		}
	}
	hex := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1a", 26, true}, {"1A", 26, true}, {"fffffffffffffff", 0xfffffffffffffff, true},
		{"", 0, false}, {"1000000000000000", 0, false}, {"g", 0, false}, {"-1", 0, false},
	}
	for _, c := range hex {
		if n, ok := ParseHex([]byte(c.in)); n != c.want || ok != c.ok {
			t.Errorf("ParseHex(%q) = %d, %v; want %d, %v", c.in, n, ok, c.want, c.ok)
		}
	}
}

func TestTokensAndFolding(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"GET", "X-Gatecrash-Fault", "a!#$%&'*+-.^_`|~z"} {
		if !IsToken(s) || !IsToken([]byte(s)) {
			t.Errorf("IsToken(%q) = false", s)
		}
	}
	for _, s := range []string{"", "GE T", "X:Y", "é", "a\x7f", "(x)"} {
		if IsToken(s) || IsToken([]byte(s)) {
			t.Errorf("IsToken(%q) = true", s)
		}
	}
	fold := []struct {
		b, s string
		want bool
	}{
		{"Content-Length", "content-length", true}, {"CONTENT-LENGTH", "Content-Length", true},
		{"Content-Lengt", "Content-Length", false}, {"[", "{", false}, {"@", "`", false},
	}
	for _, c := range fold {
		if got := EqualFold([]byte(c.b), c.s); got != c.want {
			t.Errorf("EqualFold(%q, %q) = %v", c.b, c.s, got)
		}
	}
	elems := []struct {
		v, tok string
		want   bool
	}{
		{"close", "close", true}, {"Keep-Alive, Close", "close", true}, {" upgrade ,\tclose ", "close", true},
		{"closed", "close", false}, {"gzip, chunked", "chunked", true}, {"notchunked", "chunked", false}, {"", "close", false},
	}
	for _, c := range []struct {
		v         string
		close, ka bool
	}{{"close", true, false}, {"Keep-Alive", false, true}, {"keep-alive, Upgrade, CLOSE", true, true}, {"closed, keep-alived", false, false}} {
		if cl, ka := ConnectionOptions([]byte(c.v)); cl != c.close || ka != c.ka {
			t.Errorf("ConnectionOptions(%q) = %v, %v; want %v, %v", c.v, cl, ka, c.close, c.ka)
		}
	}
	for _, c := range elems {
		if got := HasElement([]byte(c.v), c.tok); got != c.want {
			t.Errorf("HasElement(%q, %q) = %v", c.v, c.tok, got)
		}
	}
}

func TestDiscardChunked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		rest     string // what must be left unread
		err      error  // sentinel, or nil
		syntax   bool
	}{
		{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\nNEXT", rest: "NEXT"},
		{name: "extensions and trailer", in: "3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\nNEXT", rest: "NEXT"},
		{name: "bare LF", in: "3\nabc\n0\n\nNEXT", rest: "NEXT"},
		{name: "upper-case hex", in: "A\r\n0123456789\r\n0\r\n\r\n", rest: ""},
		{name: "ends in data", in: "5\r\nhel", err: io.ErrUnexpectedEOF},
		{name: "ends before last chunk", in: "5\r\nhello\r\n", err: io.ErrUnexpectedEOF},
		{name: "ends in trailer", in: "0\r\nX-T: 1\r\n", err: io.ErrUnexpectedEOF},
		{name: "bad size", in: "zz\r\n", syntax: true},
		{name: "no CRLF after data", in: "2\r\nabX\r\n", syntax: true},
		{name: "huge trailer", in: "0\r\n" + strings.Repeat("X-T: 1\r\n", 100) + "\r\n", err: ErrTrailerTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			br := bufio.NewReaderSize(strings.NewReader(c.in), 64)
			err := DiscardChunked(br, 256)
			var se *SyntaxError
			switch {
			case c.syntax && !errors.As(err, &se):
				t.Fatalf("err = %v, want a *SyntaxError", err)
			case !c.syntax && !errors.Is(err, c.err):
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if c.err == nil && !c.syntax {
				rest, _ := io.ReadAll(br)
				if string(rest) != c.rest {
					t.Errorf("left %q unread, want %q", rest, c.rest)
				}
			}
		})
	}
}

func TestReadChunkSizeLineTooLong(t *testing.T) {
	t.Parallel()
	br := bufio.NewReaderSize(strings.NewReader("1"+strings.Repeat(";x", 40)+"\r\n"), 16)
	var se *SyntaxError
	if _, err := ReadChunkSize(br); !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *SyntaxError", err)
	}
}

func TestNoAllocations(t *testing.T) {
	body := "400\r\n" + strings.Repeat("x", 1024) + "\r\n0\r\n\r\n"
	r := strings.NewReader(body)
	br := bufio.NewReaderSize(r, 4096)
	n := testing.AllocsPerRun(100, func() {
		r.Reset(body)
		br.Reset(r)
		if err := DiscardChunked(br, 1024); err != nil {
			t.Fatal(err)
		}
		_ = HasElement([]byte("keep-alive, close"), "close")
		_, _ = ParseDecimal([]byte("12345"))
	})
	if n != 0 {
		t.Errorf("%v allocations per chunked body, want 0", n)
	}
}
