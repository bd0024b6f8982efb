package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gatecrash/gatecrash/internal/http1"
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

// statusPrefix is how every status line this client accepts begins.
const statusPrefix = "HTTP/1."

// checkStatusPrefix waits until the first bytes of a response either rule out a status line
// (malformed at once, without waiting for a newline that may never come) or match its prefix.
func checkStatusPrefix(br *bufio.Reader) error {
	for want := 1; ; want++ {
		b, err := br.Peek(min(want, len(statusPrefix)))
		if !bytes.HasPrefix([]byte(statusPrefix), b) {
			return malformed("response does not start with %q: %q", statusPrefix, http1.Truncate(b))
		}
		if err != nil {
			return err
		}
		if len(b) == len(statusPrefix) {
			return nil
		}
		// Peek returned as soon as want bytes were there; take whatever else arrived too.
		want = max(want, min(br.Buffered(), len(statusPrefix)-1))
	}
}

func readOneHead(br *bufio.Reader, r *response) error {
	if err := checkStatusPrefix(br); err != nil {
		return err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return malformed("status line longer than %d bytes", br.Size())
		}
		return err
	}
	// "HTTP/1.1 200 OK\r\n": version, space, three digits, then space or end of line
	if len(line) < 13 || (line[7] != '0' && line[7] != '1') ||
		line[8] != ' ' || !isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) ||
		(line[12] != ' ' && line[12] != '\r' && line[12] != '\n') {
		return malformed("bad status line %q", http1.Truncate(line))
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
		line = http1.TrimEOL(line)
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return malformed("bad header line %q", http1.Truncate(line))
		}
		name, value := line[:colon], http1.TrimSpace(line[colon+1:])
		switch {
		case http1.EqualFold(name, "Content-Length"):
			n, ok := http1.ParseDecimal(value)
			if !ok || (r.contentLength >= 0 && r.contentLength != n) {
				return malformed("bad Content-Length %q", http1.Truncate(value))
			}
			r.contentLength = n
		case http1.EqualFold(name, "Transfer-Encoding"):
			r.chunked = http1.HasElement(value, "chunked")
		case http1.EqualFold(name, "Connection"):
			cl, ka := http1.ConnectionOptions(value)
			r.close, keepAlive = r.close || cl, keepAlive || ka
		}
	}
	if http10 && !keepAlive {
		r.close = true
	}
	return nil
}

// readBody consumes the body of r. A close-delimited body (no length, not chunked) ends at
// EOF, which is then not an error. An end of input inside a delimited body is
// io.ErrUnexpectedEOF.
func readBody(br *bufio.Reader, r *response, isHEAD bool) error {
	var err error
	switch {
	case isHEAD || r.status < 200 || r.status == 204 || r.status == 304:
		return nil
	case r.chunked:
		err = http1.DiscardChunked(br, maxResponseHead)
	case r.contentLength >= 0:
		err = http1.Discard(br, r.contentLength)
	default:
		r.close = true
		_, err = io.Copy(io.Discard, br)
	}
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*http1.SyntaxError](err); ok || errors.Is(err, http1.ErrTrailerTooLarge) {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	return err
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
