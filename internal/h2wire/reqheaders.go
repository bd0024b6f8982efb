package h2wire

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// RequestHeaders reads a connection's request header blocks (HEADERS and its CONTINUATIONs)
// as x/net's Framer does with ReadMetaHeaders set — the same checks, the same errors — but
// into one MetaHeadersFrame it keeps and fills again for each block, so that a stream costs no
// allocation once the connection is warm (a field the client sends as a reference to the
// decoder's table decodes to the string the table holds). ReadMetaHeaders allocates the
// frame, its HeadersFrame, its field slice as it grows and the decoder's callback, per block.
//
// Use it after the Framer's ReadFrameHeader (which checks a frame's size and that CONTINUATION
// frames follow their HEADERS, as x/net documents), for the frames of type HEADERS and
// CONTINUATION; every other frame goes to ReadFrameForHeader. The Framer's ReadMetaHeaders
// stays nil.
type RequestHeaders struct {
	dec     *hpack.Decoder
	max     uint32 // the header list size allowed (SETTINGS_MAX_HEADER_LIST_SIZE)
	payload []byte
	hf      http2.HeadersFrame
	mh      http2.MetaHeadersFrame
	remain  uint32 // of max, what the block's fields have left
	regular bool   // a regular field was seen (a pseudo-header after one is malformed)
	invalid error  // the block's first malformed field
}

// NewRequestHeaders reads header blocks of at most maxList bytes (as HPACK counts a field's
// size: name, value and 32), with a decoder table of HPACK's default size.
func NewRequestHeaders(maxList uint32) *RequestHeaders {
	r := &RequestHeaders{max: maxList}
	r.dec = hpack.NewDecoder(DefaultHeaderTable, r.emit)
	r.dec.SetMaxStringLength(int(maxList))
	return r
}

// emit takes one decoded field: x/net's readMetaFrame callback.
func (r *RequestHeaders) emit(f hpack.HeaderField) {
	if !httpguts.ValidHeaderFieldValue(f.Value) {
		r.invalid = fmt.Errorf("invalid header field value for %q", f.Name)
	}
	if strings.HasPrefix(f.Name, ":") {
		if r.regular {
			r.invalid = errors.New("pseudo header field after regular")
		}
	} else {
		r.regular = true
		if !validFieldName(f.Name) {
			r.invalid = fmt.Errorf("invalid header field name %q", f.Name)
		}
	}
	if r.invalid != nil {
		r.dec.SetEmitEnabled(false)
		return
	}
	size := f.Size()
	if size > r.remain {
		r.dec.SetEmitEnabled(false)
		r.mh.Truncated = true
		r.remain = 0
		return
	}
	r.remain -= size
	r.mh.Fields = append(r.mh.Fields, f)
}

// validFieldName: a token in lower case (RFC 9113 8.2.1).
func validFieldName(v string) bool {
	if v == "" {
		return false
	}
	for _, c := range v {
		if !httpguts.IsTokenRune(c) || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// Read reads the payload of the HEADERS or CONTINUATION frame whose header fh the Framer has
// just read, from r (the Framer's reader), and decodes its part of the header block. It
// returns the whole block, valid until the next Read, once a frame with END_HEADERS has come;
// nil (and no error) while CONTINUATION frames are still to come. Errors are x/net's: a
// ConnectionError (PROTOCOL_ERROR, COMPRESSION_ERROR) ends the connection, a StreamError
// (PROTOCOL_ERROR: a malformed field, or pseudo-headers that are not a request's) only the
// stream; any other error is the reader's.
func (r *RequestHeaders) Read(fh http2.FrameHeader, rd io.Reader) (*http2.MetaHeadersFrame, error) {
	if cap(r.payload) < int(fh.Length) {
		r.payload = make([]byte, fh.Length)
	}
	p := r.payload[:fh.Length]
	if _, err := io.ReadFull(rd, p); err != nil {
		return nil, err
	}
	frag, err := HeaderBlock(fh, p)
	if err != nil {
		return nil, err
	}
	if fh.Type == http2.FrameHeaders {
		r.hf = http2.HeadersFrame{FrameHeader: fh}
		r.mh = http2.MetaHeadersFrame{HeadersFrame: &r.hf, Fields: r.mh.Fields[:0]}
		r.remain, r.regular, r.invalid = r.max, false, nil
		r.dec.SetEmitEnabled(true)
	}
	// As x/net: a fragment far past what the list may hold, or any fragment after a malformed
	// field (the sizes are no longer counted), ends the connection without decoding it.
	if int64(len(frag)) > 2*int64(r.remain) || r.invalid != nil {
		return nil, http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if _, err := r.dec.Write(frag); err != nil {
		return nil, http2.ConnectionError(http2.ErrCodeCompression)
	}
	if !fh.Flags.Has(http2.FlagHeadersEndHeaders) {
		return nil, nil
	}
	if err := r.dec.Close(); err != nil {
		return nil, http2.ConnectionError(http2.ErrCodeCompression)
	}
	if r.invalid != nil {
		return nil, http2.StreamError{StreamID: r.hf.StreamID, Code: http2.ErrCodeProtocol, Cause: r.invalid}
	}
	if err := checkPseudos(r.mh.PseudoFields()); err != nil {
		return nil, http2.StreamError{StreamID: r.hf.StreamID, Code: http2.ErrCodeProtocol, Cause: err}
	}
	return &r.mh, nil
}

// checkPseudos is x/net's MetaHeadersFrame.checkPseudos: only known pseudo-headers, none
// twice, not a request's and a response's in one block.
func checkPseudos(pf []hpack.HeaderField) error {
	var request, response bool
	for i, f := range pf {
		switch f.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			request = true
		case ":status":
			response = true
		default:
			return fmt.Errorf("invalid pseudo-header %q", f.Name)
		}
		for _, g := range pf[:i] {
			if f.Name == g.Name {
				return fmt.Errorf("duplicate pseudo-header %q", f.Name)
			}
		}
	}
	if request && response {
		return errors.New("mix of request and response pseudo headers")
	}
	return nil
}
