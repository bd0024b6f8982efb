// Package h2wire holds the HTTP/2 connection rules that gatecrash's three HTTP/2 endpoints
// share: the fault server (faultserver/h2.go, a server), the load generator's client
// (loadgen/h2.go, many streams per connection) and the prober (probe/h2.go, one stream at a
// time). Frames themselves are golang.org/x/net/http2's Framer and hpack; what is here is what
// each end would otherwise write again: the client preface and how a server recognises it,
// the defaults RFC 9113 gives a connection, the peer's SETTINGS as they change (and the send
// windows they move), and header blocks that are valid on any connection.
//
// Like internal/http1 it knows neither end, and it is stateless but for the Peer value each
// connection owns.
package h2wire

import (
	"bufio"
	"bytes"
	"fmt"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The defaults every HTTP/2 connection starts with (RFC 9113 6.5.2, 6.9.2).
const (
	// DefaultWindow is the flow-control window of the connection and of each stream until
	// SETTINGS_INITIAL_WINDOW_SIZE or WINDOW_UPDATE say otherwise.
	DefaultWindow = 65535
	// DefaultMaxFrame is SETTINGS_MAX_FRAME_SIZE's initial value.
	DefaultMaxFrame = 16384
	// DefaultHeaderTable is SETTINGS_HEADER_TABLE_SIZE's initial value.
	DefaultHeaderTable = 4096
	// MaxWindow is the largest a flow-control window may be.
	MaxWindow = 1<<31 - 1
)

// Preface is what an HTTP/2 client sends first, before its SETTINGS.
var Preface = []byte(http2.ClientPreface)

// Prefaced reports whether br's next bytes are the client preface, without taking them. Call
// it once at least one byte has arrived: it first looks at four bytes, and an HTTP/1.1 request
// line is always longer than that, so it never waits for bytes an HTTP/1.1 client will not
// send.
func Prefaced(br *bufio.Reader) bool {
	if b, err := br.Peek(4); err != nil || string(b) != "PRI " {
		return false
	}
	b, err := br.Peek(len(Preface))
	return err == nil && bytes.Equal(b, Preface)
}

// Peer is what the other end's SETTINGS have said so far, its defaults until then. Each
// connection owns one; it is not safe for concurrent use.
type Peer struct {
	// InitialWindow is the send window a new stream starts with.
	InitialWindow int64
	// MaxFrame is the largest DATA payload one frame may carry to the peer.
	MaxFrame int
	// HeaderTable is the largest dynamic table the peer's decoder keeps.
	HeaderTable uint32
	// Said is every value the peer's SETTINGS carried, the last of each (nil until the first
	// SETTINGS with a value): what a prober reports.
	Said map[http2.SettingID]uint32
}

// NewPeer is a peer that has said nothing yet.
func NewPeer() Peer {
	return Peer{InitialWindow: DefaultWindow, MaxFrame: DefaultMaxFrame, HeaderTable: DefaultHeaderTable}
}

// Apply takes the settings of a SETTINGS frame that is not an ACK, in order. It returns how
// much every open stream's send window moves (the change of SETTINGS_INITIAL_WINDOW_SIZE,
// RFC 9113 6.9.2: it may be negative), and the first invalid value as an http2.ConnectionError
// (a window over 2^31-1 is FLOW_CONTROL_ERROR, a frame size out of range or a push setting
// other than 0 or 1 PROTOCOL_ERROR); the values before it are kept.
func (p *Peer) Apply(f *http2.SettingsFrame) (windowDelta int64, err error) {
	err = f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		if p.Said == nil {
			p.Said = map[http2.SettingID]uint32{}
		}
		p.Said[s.ID] = s.Val
		switch s.ID {
		case http2.SettingInitialWindowSize:
			windowDelta += int64(s.Val) - p.InitialWindow
			p.InitialWindow = int64(s.Val)
		case http2.SettingMaxFrameSize:
			p.MaxFrame = int(s.Val)
		case http2.SettingHeaderTableSize:
			p.HeaderTable = s.Val
		}
		return nil
	})
	return windowDelta, err
}

// StartClient writes the client's side of the connection's start to bw and flushes it: the
// preface, a SETTINGS frame with settings, and, when recvWindow is above the default, a
// WINDOW_UPDATE that grows the connection's receive window to it (a stream's receive window is
// SETTINGS_INITIAL_WINDOW_SIZE, for the caller to put in settings). fr must write to bw. It
// does not wait for the server's SETTINGS, as Go's and most clients do not.
func StartClient(bw *bufio.Writer, fr *http2.Framer, recvWindow uint32, settings ...http2.Setting) error {
	if recvWindow > MaxWindow {
		return fmt.Errorf("h2wire: receive window %d over %d", recvWindow, MaxWindow)
	}
	bw.WriteString(http2.ClientPreface)
	if err := fr.WriteSettings(settings...); err != nil {
		return err
	}
	if recvWindow > DefaultWindow {
		if err := fr.WriteWindowUpdate(0, recvWindow-DefaultWindow); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Block encodes fields as one header block with an encoder of its own, so that it names no
// entry of any connection's dynamic table: the block can be sent again, on any connection,
// whatever that connection's encoder state — a request laid out once and sent many times.
func Block(fields ...hpack.HeaderField) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range fields {
		enc.WriteField(f)
	}
	return buf.Bytes()
}

// HeaderBlock returns the header block fragment a HEADERS or CONTINUATION frame's payload
// carries: without the padding and the priority fields of a HEADERS frame (RFC 9113 6.2). It
// is for a reader that takes these payloads itself, after the Framer's ReadFrameHeader (as
// x/net documents), so that a response's HEADERS cost no allocation; its errors are the
// connection errors x/net's own parser gives: a stream id of 0, or padding longer than the
// payload (PROTOCOL_ERROR).
func HeaderBlock(fh http2.FrameHeader, payload []byte) ([]byte, error) {
	if fh.StreamID == 0 {
		return nil, http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if fh.Type != http2.FrameHeaders {
		return payload, nil
	}
	pad := 0
	if fh.Flags.Has(http2.FlagHeadersPadded) {
		if len(payload) < 1 {
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		pad, payload = int(payload[0]), payload[1:]
	}
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		if len(payload) < 5 {
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		payload = payload[5:]
	}
	if pad > len(payload) {
		return nil, http2.ConnectionError(http2.ErrCodeProtocol)
	}
	return payload[:len(payload)-pad], nil
}

// IndexedOnly reports whether a complete header block is made of indexed fields only (RFC
// 7541 6.1, no literal, no table size update). Decoding such a block leaves the decoder's
// dynamic table as it was, so the same bytes decode to the same fields for as long as no other
// block changes the table: a reader may keep what the block said and skip decoding it again.
// It looks at the layout only; an index the table does not hold is the decoder's to reject.
func IndexedOnly(block []byte) bool {
	if len(block) == 0 {
		return false
	}
	for i := 0; i < len(block); {
		b := block[i]
		i++
		if b&0x80 == 0 {
			return false
		}
		if b&0x7f == 0x7f { // the index goes on in continuation bytes (RFC 7541 5.1)
			for {
				if i >= len(block) {
					return false
				}
				c := block[i]
				i++
				if c&0x80 == 0 {
					break
				}
			}
		}
	}
	return true
}

// Warm encodes fields as Block does (first), and as the same encoder encodes them again right
// after (again): made of references to the entries first added to the peer's table, a few
// bytes instead of the whole block. again is valid on a connection whose last header block
// sent was first or again (nothing else added to the peer's table since), while the peer's
// table is at least DefaultHeaderTable. ok is false when again would itself add entries (the
// fields do not fit the table): sending it twice would name entries that moved.
func Warm(fields ...hpack.HeaderField) (first, again []byte, ok bool) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	encode := func() []byte {
		buf.Reset()
		for _, f := range fields {
			enc.WriteField(f)
		}
		return bytes.Clone(buf.Bytes())
	}
	first, again = encode(), encode()
	return first, again, bytes.Equal(again, encode()) // a block that adds nothing encodes the same each time
}

// Encoder encodes a connection's header blocks in turn (a server's responses), sharing one
// dynamic table with the peer's decoder as HPACK means it to: it must be told the peer's
// SETTINGS_HEADER_TABLE_SIZE (SetPeerTable) before the next block, or a peer that keeps a
// smaller table (nginx's grpc module keeps none) cannot decode it.
type Encoder struct {
	buf bytes.Buffer
	enc *hpack.Encoder
}

// NewEncoder is an encoder for a new connection (the peer's table at its default size).
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.enc = hpack.NewEncoder(&e.buf)
	return e
}

// SetPeerTable applies the peer's SETTINGS_HEADER_TABLE_SIZE: the next block starts with a
// table size update when the table must shrink.
func (e *Encoder) SetPeerTable(size uint32) { e.enc.SetMaxDynamicTableSizeLimit(size) }

// Encode lays out one header block; the bytes are valid until the next Encode.
func (e *Encoder) Encode(fields ...hpack.HeaderField) []byte {
	e.buf.Reset()
	for _, f := range fields {
		e.enc.WriteField(f)
	}
	return e.buf.Bytes()
}
