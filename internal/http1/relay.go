package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ResponseHead is a response head as a relay needs it: the bytes to pass on unchanged, and
// what they say about the body and the connection.
type ResponseHead struct {
	// Raw is the head as it arrived, status line to the empty line. ReadResponseHead appends
	// to Raw[:0], so a caller that keeps one ResponseHead per connection reuses the buffer.
	Raw    []byte
	Status int
	// Minor is the HTTP/1.x minor version of the status line: 0 or 1.
	Minor int
	// ContentLength is the declared body length, or -1 when there is none.
	ContentLength int64
	// Chunked is true when the last transfer coding is chunked.
	Chunked bool
	// Close is true when the sender will close after this response ("Connection: close", or
	// HTTP/1.0 without "Connection: keep-alive").
	Close bool
}

// Body is how a response's body is delimited (RFC 9112 §6.3).
type Body int

// Body framings.
const (
	BodyNone       Body = iota // HEAD, 1xx, 204, 304: no body whatever the headers say
	BodyChunked                // Transfer-Encoding: chunked
	BodyLength                 // Content-Length
	BodyUntilClose             // neither: the body ends when the sender closes
)

// Framing says how the body of h, sent in answer to a request with the given method's
// HEAD-ness, is delimited.
func (h *ResponseHead) Framing(isHEAD bool) Body {
	switch {
	case isHEAD || h.Status < 200 || h.Status == 204 || h.Status == 304:
		return BodyNone
	case h.Chunked:
		return BodyChunked
	case h.ContentLength >= 0:
		return BodyLength
	}
	return BodyUntilClose
}

// ReadResponseHead reads one response head (interim 1xx heads included: the caller loops)
// from br into h, holding at most max bytes. It returns io.EOF when the input ended before
// any byte, io.ErrUnexpectedEOF when it ended inside the head, *SyntaxError for bytes that
// are not an HTTP/1.x response head, or br's own error.
func ReadResponseHead(br *bufio.Reader, h *ResponseHead, max int) error {
	h.Raw = h.Raw[:0]
	h.Status, h.Minor, h.ContentLength, h.Chunked, h.Close = 0, 1, -1, false, false
	keepAlive := false
	for first := true; ; first = false {
		start := len(h.Raw)
		for {
			frag, err := br.ReadSlice('\n')
			if len(h.Raw)+len(frag) > max {
				return syntaxError("response head larger than %d bytes", max)
			}
			h.Raw = append(h.Raw, frag...)
			if err == nil {
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if len(h.Raw) == 0 && errors.Is(err, io.EOF) {
				return io.EOF
			}
			if first && len(h.Raw) > 0 && !bytes.HasPrefix([]byte("HTTP/1."), h.Raw[:min(len(h.Raw), 7)]) {
				return syntaxError("response does not start with \"HTTP/1.\": %q", Truncate(h.Raw))
			}
			return short(err)
		}
		line := TrimEOL(h.Raw[start:])
		if first {
			if err := h.parseStatusLine(line); err != nil {
				return err
			}
			continue
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !IsToken(line[:colon]) {
			return syntaxError("bad header line %q", Truncate(line))
		}
		name, value := line[:colon], TrimSpace(line[colon+1:])
		switch {
		case EqualFold(name, "Content-Length"):
			n, ok := ParseDecimal(value)
			if !ok || (h.ContentLength >= 0 && h.ContentLength != n) {
				return syntaxError("bad Content-Length %q", Truncate(value))
			}
			h.ContentLength = n
		case EqualFold(name, "Transfer-Encoding"):
			h.Chunked = lastElementIs(value, "chunked")
		case EqualFold(name, "Connection"):
			cl, ka := ConnectionOptions(value)
			h.Close, keepAlive = h.Close || cl, keepAlive || ka
		}
	}
	if h.Minor == 0 && !keepAlive {
		h.Close = true
	}
	return nil
}

func (h *ResponseHead) parseStatusLine(line []byte) error {
	// "HTTP/1.1 200 OK": version, space, three digits, then a space or the end
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || (len(line) > 12 && line[12] != ' ') {
		return syntaxError("bad status line %q", Truncate(line))
	}
	h.Minor = int(line[7] - '0')
	h.Status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if h.Status < 100 {
		return syntaxError("status %d out of range", h.Status)
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lastElementIs reports whether the last element of a comma-separated list is tok.
func lastElementIs(v []byte, tok string) bool {
	var last []byte
	for len(v) > 0 {
		var el []byte
		el, v = nextElement(v)
		if len(el) > 0 {
			last = el
		}
	}
	return EqualFold(last, tok)
}

// CopyN copies exactly n bytes from br to w, first what br has buffered, then through buf
// (which must not be empty) — never through a buffer of its own, so a relay streams any
// length in constant memory without allocating. An end of input first is
// io.ErrUnexpectedEOF. Read errors are returned as they are; a write error is wrapped in
// *WriteError so that the caller can tell which side failed.
func CopyN(w io.Writer, br *bufio.Reader, n int64, buf []byte) (written int64, err error) {
	for n > 0 {
		var chunk []byte
		buffered := br.Buffered() > 0
		if buffered {
			chunk, _ = br.Peek(int(min(int64(br.Buffered()), n)))
		} else {
			m, rerr := br.Read(buf[:min(int64(len(buf)), n)])
			chunk = buf[:m]
			if m == 0 {
				if rerr == nil {
					continue
				}
				return written, short(rerr)
			}
		}
		k, werr := w.Write(chunk)
		if buffered {
			br.Discard(k)
		}
		written += int64(k)
		n -= int64(k)
		if werr != nil {
			return written, &WriteError{Err: werr}
		}
	}
	return written, nil
}

// CopyUntilEOF copies from br to w until the input ends (a close-delimited body), at most
// limit bytes when limit >= 0. It returns nil at the end of input or at the limit.
func CopyUntilEOF(w io.Writer, br *bufio.Reader, limit int64, buf []byte) (written int64, err error) {
	for limit < 0 || written < limit {
		var chunk []byte
		buffered := br.Buffered() > 0
		if buffered {
			want := br.Buffered()
			if limit >= 0 {
				want = int(min(int64(want), limit-written))
			}
			chunk, _ = br.Peek(want)
		} else {
			want := int64(len(buf))
			if limit >= 0 {
				want = min(want, limit-written)
			}
			m, rerr := br.Read(buf[:want])
			chunk = buf[:m]
			if m == 0 {
				if errors.Is(rerr, io.EOF) {
					return written, nil
				}
				if rerr == nil {
					continue
				}
				return written, rerr
			}
		}
		k, werr := w.Write(chunk)
		if buffered {
			br.Discard(k)
		}
		written += int64(k)
		if werr != nil {
			return written, &WriteError{Err: werr}
		}
	}
	return written, nil
}

// WriteError is a failure to write to the copy's destination (as opposed to reading its
// source).
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "write: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// ChunkedCopy is the outcome of CopyChunked.
type ChunkedCopy struct {
	// Payload is how many body bytes (chunk data, not framing) were copied.
	Payload int64
	// Ended is true when the last chunk was reached: with HoldLast it was not copied,
	// otherwise it and the trailer section were.
	Ended bool
}

// CopyChunked copies a chunked body from br to w as it arrives, framing included, byte for
// byte. It stops after limit bytes of chunk data when limit >= 0 — inside a chunk, before its
// CRLF, so the receiver is left short — and, with holdLast, before the last chunk when the
// body ends first (the receiver never learns that the body is complete). The trailer
// section may hold at most maxTrailer bytes. Errors are as CopyN's, plus *SyntaxError and
// ErrTrailerTooLarge.
func CopyChunked(w io.Writer, br *bufio.Reader, limit int64, holdLast bool, maxTrailer int, buf []byte) (ChunkedCopy, error) {
	var out ChunkedCopy
	write := func(b []byte) error {
		if _, err := w.Write(b); err != nil {
			return &WriteError{Err: err}
		}
		return nil
	}
	for {
		if limit >= 0 && out.Payload >= limit {
			return out, nil
		}
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return out, syntaxError("chunk size line longer than %d bytes", br.Size())
			}
			return out, short(err)
		}
		size := TrimEOL(line)
		if i := bytes.IndexByte(size, ';'); i >= 0 {
			size = size[:i]
		}
		n, ok := ParseHex(TrimSpace(size))
		if !ok {
			return out, syntaxError("invalid chunk size %q", Truncate(TrimSpace(size)))
		}
		if n == 0 {
			out.Ended = true
			if holdLast {
				return out, nil
			}
			if err := write(line); err != nil {
				return out, err
			}
			return out, copyTrailer(write, br, maxTrailer)
		}
		if err := write(line); err != nil {
			return out, err
		}
		take := n
		if limit >= 0 {
			take = min(n, limit-out.Payload)
		}
		k, err := CopyN(w, br, take, buf)
		out.Payload += k
		if err != nil || take < n {
			return out, err
		}
		if err := readCRLF(br); err != nil {
			return out, err
		}
		if err := write(crlfBytes); err != nil {
			return out, err
		}
	}
}

var crlfBytes = []byte("\r\n")

func copyTrailer(write func([]byte) error, br *bufio.Reader, maxTrailer int) error {
	for total := 0; ; {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if total > maxTrailer || errors.Is(err, bufio.ErrBufferFull) {
			return ErrTrailerTooLarge
		}
		if err != nil {
			return short(err)
		}
		if err := write(line); err != nil {
			return err
		}
		if len(TrimEOL(line)) == 0 {
			return nil
		}
	}
}
