package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Errors the readers return besides the reader's own (timeouts, resets). Test with errors.Is
// and errors.As.
var (
	// ErrTrailerTooLarge is a chunked trailer section over the caller's bound.
	ErrTrailerTooLarge = errors.New("chunked trailer section too large")
)

// SyntaxError is framing that does not follow RFC 9112: a bad chunk size, chunk data not
// followed by CRLF, an over-long chunk-size line. Msg says what, quoting at most 64 bytes.
type SyntaxError struct{ Msg string }

func (e *SyntaxError) Error() string { return e.Msg }

func syntaxError(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...)}
}

// ParseDecimal parses a Content-Length style value: ASCII digits only, at most 18 of them (so
// it cannot overflow int64).
func ParseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// ParseHex parses a chunk size: ASCII hex digits only, at most 15 of them.
func ParseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// IsToken reports whether b is a non-empty RFC 9110 token (a method or a header name).
func IsToken[T string | []byte](b T) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; c >= 0x80 || !tokenChars[c] {
			return false
		}
	}
	return true
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// EqualFold reports whether b equals s ignoring ASCII case, without allocating.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || (x|0x20) < 'a' || (x|0x20) > 'z' {
			return false
		}
	}
	return true
}

// HasElement reports whether the comma-separated list v (a Connection or Transfer-Encoding
// value) has an element equal to tok, ignoring ASCII case and surrounding whitespace.
func HasElement(v []byte, tok string) bool {
	for len(v) > 0 {
		var el []byte
		el, v = nextElement(v)
		if EqualFold(el, tok) {
			return true
		}
	}
	return false
}

// ConnectionOptions reads a Connection header value in one pass and reports whether it has
// the "close" and the "keep-alive" options.
func ConnectionOptions(v []byte) (close, keepAlive bool) {
	for len(v) > 0 {
		var el []byte
		el, v = nextElement(v)
		close = close || EqualFold(el, "close")
		keepAlive = keepAlive || EqualFold(el, "keep-alive")
	}
	return close, keepAlive
}

// nextElement splits the first element off a comma-separated list, trimmed.
func nextElement(v []byte) (el, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return TrimSpace(v[:i]), v[i+1:]
	}
	return TrimSpace(v), nil
}

// TrimSpace trims spaces and tabs (HTTP's optional whitespace) from both ends of b.
func TrimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// TrimEOL removes a trailing LF or CRLF.
func TrimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// Truncate shortens b to at most 64 bytes, for quoting in an error message.
func Truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// Discard consumes exactly n bytes from br. An end of input first is io.ErrUnexpectedEOF.
func Discard(br *bufio.Reader, n int64) error {
	for n > 0 {
		d, err := br.Discard(int(min(n, 1<<30)))
		n -= int64(d)
		if err != nil {
			return short(err)
		}
	}
	return nil
}

// ReadChunkSize reads one chunk-size line ("1a;ext=v\r\n") and returns the size. Extensions
// are ignored; the line must fit in br's buffer.
func ReadChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return 0, syntaxError("chunk size line longer than %d bytes", br.Size())
		}
		return 0, short(err)
	}
	line = TrimEOL(line)
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = TrimSpace(line)
	n, ok := ParseHex(line)
	if !ok {
		return 0, syntaxError("invalid chunk size %q", Truncate(line))
	}
	return n, nil
}

// DiscardChunked consumes a chunked body from br: chunks, the last chunk, and the trailer
// section, which may hold at most maxTrailer bytes. It returns nil at the end of the body,
// io.ErrUnexpectedEOF when the input ends inside it, *SyntaxError for bad framing,
// ErrTrailerTooLarge, or br's own error (a timeout, a reset).
func DiscardChunked(br *bufio.Reader, maxTrailer int) error {
	for {
		n, err := ReadChunkSize(br)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if err := Discard(br, n); err != nil {
			return err
		}
		if err := readCRLF(br); err != nil {
			return err
		}
	}
	return copyTrailer(discardLine, br, maxTrailer)
}

func discardLine([]byte) error { return nil }

// readCRLF consumes the CRLF (or bare LF) that ends a chunk's data.
func readCRLF(br *bufio.Reader) error {
	b, err := br.ReadByte()
	if err == nil && b == '\r' {
		b, err = br.ReadByte()
	}
	switch {
	case err != nil:
		return short(err)
	case b != '\n':
		return syntaxError("chunk data not followed by CRLF")
	}
	return nil
}

// short turns an end of input inside a message into io.ErrUnexpectedEOF.
func short(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
