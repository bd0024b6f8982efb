package faultserver

import (
	"net/http"
	"strconv"
)

// connMode is how the response tells the client about the connection's future; it picks the
// Connection header and whether chunked framing is allowed.
type connMode int

const (
	modeKeep11  connMode = iota // HTTP/1.1 keep-alive: no Connection header needed
	modeClose11                 // HTTP/1.1, closing: "Connection: close"
	modeKeep10                  // HTTP/1.0 keep-alive: "Connection: keep-alive"
	modeClose10                 // HTTP/1.0, closing
	numModes
)

func modeFor(r *Request, keep bool) connMode {
	switch {
	case r.Minor == 0 && keep:
		return modeKeep10
	case r.Minor == 0:
		return modeClose10
	case keep:
		return modeKeep11
	}
	return modeClose11
}

// canned is a response rendered once, for each connection mode, so that serving it is a
// single write with no formatting and no allocation.
type canned struct {
	status  int
	payload []byte
	wire    [numModes][]byte // head followed by the framed body
	headLen [numModes]int
	chunked bool // for HTTP/1.1 modes; HTTP/1.0 always gets Content-Length
}

// chunkSize is the largest chunk the server writes in a chunked body.
const chunkSize = 8 << 10

func newCanned(status int, payload []byte, chunked bool) *canned {
	c := &canned{status: status, payload: payload, chunked: chunked}
	for m := connMode(0); m < numModes; m++ {
		ch := chunked && (m == modeKeep11 || m == modeClose11)
		head := renderHead(nil, status, len(payload), ch, m)
		c.headLen[m] = len(head)
		if ch {
			c.wire[m] = appendChunked(head, payload, len(payload), true)
		} else {
			c.wire[m] = append(head, payload...)
		}
	}
	return c
}

// renderHead appends a response head to b.
func renderHead(b []byte, status, bodyLen int, chunked bool, m connMode) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nServer: gatecrash\r\nContent-Type: text/plain\r\n"...)
	if chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	} else {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(bodyLen), 10)
		b = append(b, "\r\n"...)
	}
	switch m {
	case modeClose11, modeClose10:
		b = append(b, "Connection: close\r\n"...)
	case modeKeep10:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendChunked appends the first n bytes of payload as chunks, and the last chunk ("0\r\n\r\n")
// when final is true.
func appendChunked(b, payload []byte, n int, final bool) []byte {
	for off := 0; off < n; off += chunkSize {
		end := min(off+chunkSize, n)
		b = strconv.AppendInt(b, int64(end-off), 16)
		b = append(b, "\r\n"...)
		b = append(b, payload[off:end]...)
		b = append(b, "\r\n"...)
	}
	if final {
		b = append(b, "0\r\n\r\n"...)
	}
	return b
}

// payloadPattern repeats what every payload is made of, long enough to stream from without
// allocating: its length is a multiple of the pattern's, so any offset maps into it.
var payloadPattern = func() []byte {
	const pattern = "gatecrash\n"
	b := make([]byte, 0, 16<<10)
	for len(b)+len(pattern) <= cap(b) {
		b = append(b, pattern...)
	}
	return b
}()

var okPayload = []byte("ok")

// payloadAt returns up to max bytes of the size-byte payload starting at off, as a slice of a
// shared read-only buffer.
func payloadAt(size, off, max int) []byte {
	if size == 2 {
		return okPayload[off:min(2, off+max)]
	}
	i := off % 10
	return payloadPattern[i:min(len(payloadPattern), i+max)]
}

// Payload returns the n-byte body the server sends: "gatecrash\n" repeated and cut to n bytes
// ("ok" for 2 bytes, the default). Tests use it to know the exact bytes to expect.
func Payload(n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		b = append(b, payloadAt(n, len(b), n-len(b))...)
	}
	return b
}

// isHEAD reports whether the response to r carries no body.
func isHEAD(r *Request) bool { return string(r.Method) == "HEAD" }

// bytesFor returns the wire bytes of c for request r on a connection that stays open (keep).
func (c *canned) bytesFor(r *Request, keep bool) []byte {
	m := modeFor(r, keep)
	if isHEAD(r) {
		return c.wire[m][:c.headLen[m]]
	}
	return c.wire[m]
}
