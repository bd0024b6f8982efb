package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadResponse feeds arbitrary bytes to the response parser: it must never panic, and
// every error must be one the classifier understands (malformed, or an end of input).
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nok\r\n0\r\nT: v\r\n\r\n",
		"HTTP/1.0 502 Bad Gateway\r\nConnection: keep-alive\r\n\r\nbody until close",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, head bool) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 64)
		var r response
		err := readResponseHead(br, &r)
		if err == nil {
			err = readBody(br, &r, head)
			if err == nil && (r.status < 100 || r.status > 999) {
				t.Fatalf("accepted status %d", r.status)
			}
		}
		if err != nil && !errors.Is(err, errMalformed) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("error the classifier does not know: %T %v", err, err)
		}
	})
}
