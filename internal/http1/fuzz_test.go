package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// Both ends read chunked bodies with DiscardChunked, so whatever bytes arrive it must end in
// nil, io.ErrUnexpectedEOF, a *SyntaxError or ErrTrailerTooLarge — never a panic or a hang —
// and on success it must have stopped right after an empty line.
func FuzzDiscardChunked(f *testing.F) {
	for _, s := range []string{"0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
		"a\nxxxxxxxxxx\n0\n\n", "zz\r\n", "5\r\nhel", "fffffffffffffff\r\n", "1\r\nxyz"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		br := bufio.NewReaderSize(r, 16)
		err := DiscardChunked(br, 256)
		_, isSyntax := errors.AsType[*SyntaxError](err)
		switch {
		case err == nil:
			consumed := in[:len(in)-r.Len()-br.Buffered()]
			if !bytes.HasSuffix(consumed, []byte("\n\n")) && !bytes.HasSuffix(consumed, []byte("\n\r\n")) {
				t.Fatalf("accepted %q, which does not end with an empty line", consumed)
			}
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrTrailerTooLarge), isSyntax:
		default:
			t.Fatalf("unexpected error %T: %v", err, err)
		}
	})
}
