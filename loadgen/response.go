package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errMalformed marks bytes that are not a valid HTTP/1.1 response.
var errMalformed = errors.New("malformed response")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// response is what the client needs of a response head.
type response struct {
	status        int
	contentLength int64 // -1: none
	chunked       bool
	close         bool // the server will close (or the body is close-delimited)
}

// maxResponseHead bounds a response head.
const maxResponseHead = 64 << 10

// readResponseHead reads one response head (skipping interim 1xx responses) into r.
func readResponseHead(br *bufio.Reader, r *response) error {
	for {
		if err := readOneHead(br, r); err != nil {
			return err
		}
		if r.status >= 200 || r.status == 101 {
			return nil
		}
		// 100 Continue, 102, 103 Early Hints: interim, the final response follows
	}
}

func readOneHead(br *bufio.Reader, r *response) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return malformed("status line longer than %d bytes", br.Size())
		}
		return err
	}
	// "HTTP/1.1 200 OK\r\n": version, space, three digits, then space or end of line
	if len(line) < 13 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || (line[7] != '0' && line[7] != '1') ||
		line[8] != ' ' || !isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) ||
		(line[12] != ' ' && line[12] != '\r' && line[12] != '\n') {
		return malformed("bad status line %q", truncate(line))
	}
	http10 := line[7] == '0'
	r.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if r.status < 100 {
		return malformed("status %d out of range", r.status)
	}
	r.contentLength, r.chunked, r.close = -1, false, false
	keepAlive := false
	total := len(line)
	for {
		line, err = br.ReadSlice('\n')
		total += len(line)
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return malformed("header line longer than %d bytes", br.Size())
			}
			return err
		}
		if total > maxResponseHead {
			return malformed("response head larger than %d bytes", maxResponseHead)
		}
		line = trimEOL(line)
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return malformed("bad header line %q", truncate(line))
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok || (r.contentLength >= 0 && r.contentLength != n) {
				return malformed("bad Content-Length %q", truncate(value))
			}
			r.contentLength = n
		case equalFold(name, "transfer-encoding"):
			r.chunked = containsFold(value, "chunked")
		case equalFold(name, "connection"):
			r.close = r.close || containsFold(value, "close")
			keepAlive = containsFold(value, "keep-alive")
		}
	}
	if http10 && !keepAlive {
		r.close = true
	}
	return nil
}

// readBody consumes the body of r. A close-delimited body (no length, not chunked) ends at
// EOF, which is then not an error.
func readBody(br *bufio.Reader, r *response, isHEAD bool) error {
	switch {
	case isHEAD || r.status < 200 || r.status == 204 || r.status == 304:
		return nil
	case r.chunked:
		return readChunked(br)
	case r.contentLength >= 0:
		return discard(br, r.contentLength)
	}
	r.close = true
	_, err := io.Copy(io.Discard, br)
	return err
}

func readChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return malformed("chunk size line too long")
			}
			return eofIsShort(err)
		}
		line = trimEOL(line)
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, ok := parseHex(bytes.TrimSpace(line))
		if !ok {
			return malformed("bad chunk size %q", truncate(line))
		}
		if n == 0 {
			break
		}
		if err := discard(br, n); err != nil {
			return err
		}
		crlf, err := br.ReadSlice('\n')
		if err != nil {
			return eofIsShort(err)
		}
		if len(trimEOL(crlf)) != 0 {
			return malformed("chunk data not followed by CRLF")
		}
	}
	for total := 0; ; { // trailers
		line, err := br.ReadSlice('\n')
		total += len(line)
		if err != nil {
			return eofIsShort(err)
		}
		if total > maxResponseHead {
			return malformed("trailer section too large")
		}
		if len(trimEOL(line)) == 0 {
			return nil
		}
	}
}

func discard(br *bufio.Reader, n int64) error {
	for n > 0 {
		d, err := br.Discard(int(min(n, 1<<30)))
		n -= int64(d)
		if err != nil {
			return eofIsShort(err)
		}
	}
	return nil
}

// eofIsShort turns an EOF inside a body into io.ErrUnexpectedEOF.
func eofIsShort(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case isDigit(c):
			n = n<<4 | int64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// containsFold reports whether b contains lower, ignoring ASCII case, without allocating.
func containsFold(b []byte, lower string) bool {
	for i := 0; i+len(lower) <= len(b); i++ {
		if equalFold(b[i:i+len(lower)], lower) {
			return true
		}
	}
	return false
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
