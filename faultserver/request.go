package faultserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gatecrash/gatecrash/internal/http1"
)

// Request is a parsed HTTP/1.1 (or 1.0) request head. Its byte slices point into a buffer
// owned by the connection and stay valid only until the next request on that connection is
// read; copy what must outlive it.
type Request struct {
	Method []byte
	Target []byte
	// Minor is the HTTP/1.x minor version: 0 or 1.
	Minor int
	// ContentLength is the declared body length, or -1 when there is none.
	ContentLength int64
	// Chunked is true for "Transfer-Encoding: chunked".
	Chunked bool
	// Close is true when the connection must close after this exchange (HTTP/1.1
	// "Connection: close", or HTTP/1.0 without "Connection: keep-alive").
	Close bool
	// Expect100 is true for "Expect: 100-continue".
	Expect100 bool
	// HeadBytes is the size of the head on the wire, request line to the empty line.
	HeadBytes int

	raw    []byte
	fields []field
}

type span struct{ a, b int }

type field struct{ name, value span }

// Path returns the request target without its query string.
func (r *Request) Path() []byte {
	if i := bytes.IndexByte(r.Target, '?'); i >= 0 {
		return r.Target[:i]
	}
	return r.Target
}

// Header returns the first value of the named header (case-insensitive) and whether it exists.
func (r *Request) Header(name string) ([]byte, bool) {
	for _, f := range r.fields {
		if http1.EqualFold(r.raw[f.name.a:f.name.b], name) {
			return r.raw[f.value.a:f.value.b], true
		}
	}
	return nil, false
}

// hasBody reports whether a body follows the head.
func (r *Request) hasBody() bool { return r.Chunked || r.ContentLength > 0 }

// ParseError is a request the server cannot accept. Status is the HTTP status sent back
// before the connection is closed (400, 408, 417, 431, 501, 505).
type ParseError struct {
	Status int
	Msg    string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Msg) }

func badRequest(format string, args ...any) error {
	return &ParseError{Status: 400, Msg: fmt.Sprintf(format, args...)}
}

// errIncomplete is an end of input inside a head or body: the peer went away mid-request.
// It is the error the shared framing readers (internal/http1) return for the same thing.
var errIncomplete = io.ErrUnexpectedEOF

// readHead reads and parses one request head from br into r, holding at most max bytes of
// head. Leading empty lines are skipped (RFC 9112 §2.2). Read errors (EOF, timeouts) are
// returned as they are when no byte of the head has been read, else wrapped with errIncomplete
// for EOF; a head over max is a 431 ParseError.
func readHead(br *bufio.Reader, r *Request, max int) error {
	r.raw = r.raw[:0]
	r.fields = r.fields[:0]
	r.Method, r.Target = nil, nil
	r.ContentLength, r.Chunked, r.Close, r.Expect100, r.HeadBytes = -1, false, false, false, 0

	var reqLine span
	for {
		ln, err := readLine(br, r, max)
		if err != nil {
			return err
		}
		if ln.b > ln.a {
			reqLine = ln
			break
		}
		// an empty line before the request line is ignored
	}
	var connClose, connKeepAlive, sawCL bool
	for {
		ln, err := readLine(br, r, max)
		if err != nil {
			if errors.Is(err, errEOFBeforeHead) {
				return errIncomplete
			}
			return err
		}
		if ln.a == ln.b {
			break // end of head
		}
		line := r.raw[ln.a:ln.b]
		if line[0] == ' ' || line[0] == '\t' {
			return badRequest("obsolete line folding in header section")
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !http1.IsToken(line[:colon]) {
			return badRequest("malformed header line %q", http1.Truncate(line))
		}
		name := span{ln.a, ln.a + colon}
		v := span{ln.a + colon + 1, ln.b}
		for v.a < v.b && (r.raw[v.a] == ' ' || r.raw[v.a] == '\t') {
			v.a++
		}
		for v.b > v.a && (r.raw[v.b-1] == ' ' || r.raw[v.b-1] == '\t') {
			v.b--
		}
		r.fields = append(r.fields, field{name, v})
		nb, vb := r.raw[name.a:name.b], r.raw[v.a:v.b]
		switch {
		case http1.EqualFold(nb, "Content-Length"):
			n, ok := http1.ParseDecimal(vb)
			if !ok {
				return badRequest("invalid Content-Length %q", http1.Truncate(vb))
			}
			if sawCL && n != r.ContentLength {
				return badRequest("conflicting Content-Length headers")
			}
			sawCL, r.ContentLength = true, n
		case http1.EqualFold(nb, "Transfer-Encoding"):
			if !http1.EqualFold(vb, "chunked") {
				return &ParseError{Status: 501, Msg: fmt.Sprintf("transfer coding %q is not implemented; only chunked is", http1.Truncate(vb))}
			}
			if r.Chunked {
				return badRequest("repeated Transfer-Encoding")
			}
			r.Chunked = true
		case http1.EqualFold(nb, "Connection"):
			cl, ka := http1.ConnectionOptions(vb)
			connClose, connKeepAlive = connClose || cl, connKeepAlive || ka
		case http1.EqualFold(nb, "Expect"):
			if !http1.EqualFold(vb, "100-continue") {
				return &ParseError{Status: 417, Msg: fmt.Sprintf("expectation %q is not supported", http1.Truncate(vb))}
			}
			r.Expect100 = true
		}
	}
	if err := r.parseRequestLine(reqLine); err != nil {
		return err
	}
	if r.Chunked && sawCL {
		// RFC 9112 §6.3: a message with both is a smuggling attempt or a broken client.
		return badRequest("both Transfer-Encoding and Content-Length")
	}
	r.Close = connClose || (r.Minor == 0 && !connKeepAlive)
	r.HeadBytes = len(r.raw)
	return nil
}

// errEOFBeforeHead marks an EOF before the first byte of a head line was read.
var errEOFBeforeHead = errors.New("EOF before request")

// readLine appends one line to r.raw and returns its span without the line ending (CRLF or
// a bare LF).
func readLine(br *bufio.Reader, r *Request, max int) (span, error) {
	start := len(r.raw)
	for {
		frag, err := br.ReadSlice('\n')
		if len(r.raw)+len(frag) > max {
			return span{}, &ParseError{Status: 431, Msg: fmt.Sprintf("request head is larger than %d bytes", max)}
		}
		r.raw = append(r.raw, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(r.raw) == 0 && errors.Is(err, io.EOF) {
			return span{}, errEOFBeforeHead
		}
		if len(r.raw) > 0 && errors.Is(err, io.EOF) {
			return span{}, errIncomplete
		}
		return span{}, err
	}
	end := len(r.raw) - 1
	if end > start && r.raw[end-1] == '\r' {
		end--
	}
	return span{start, end}, nil
}

func (r *Request) parseRequestLine(ln span) error {
	line := r.raw[ln.a:ln.b]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return badRequest("malformed request line %q", http1.Truncate(line))
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line %q", http1.Truncate(line))
	}
	method, target, version := line[:sp1], rest[:sp2], rest[sp2+1:]
	if !http1.IsToken(method) {
		return badRequest("invalid method %q", http1.Truncate(method))
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return badRequest("invalid request target %q", http1.Truncate(target))
		}
	}
	if len(version) != 8 || string(version[:5]) != "HTTP/" || version[6] != '.' ||
		version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9' {
		return badRequest("invalid HTTP version %q", http1.Truncate(version))
	}
	if version[5] != '1' || version[7] > '1' {
		return &ParseError{Status: 505, Msg: fmt.Sprintf("%s is not supported; this origin speaks HTTP/1.0 and HTTP/1.1", version)}
	}
	r.Method, r.Target, r.Minor = method, target, int(version[7]-'0')
	return nil
}

func validHeaderName(s string) bool { return http1.IsToken(s) }
