package h2wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// frames lays out header blocks as a client sends them: each block a HEADERS frame with the
// first split bytes (all of it when split is past the end) and a CONTINUATION with the rest.
func frames(t testing.TB, split int, blocks ...[]byte) []byte {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	for i, b := range blocks {
		id := uint32(2*i + 1)
		first := b[:min(split, len(b))]
		rest := b[len(first):]
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndHeaders: len(rest) == 0,
			EndStream: true}); err != nil {
			t.Fatal(err)
		}
		if len(rest) > 0 {
			if err := fr.WriteContinuation(id, true, rest); err != nil {
				t.Fatal(err)
			}
		}
	}
	return buf.Bytes()
}

// outcome is what reading one block came to, comparable between the two readers.
func outcome(mh *http2.MetaHeadersFrame, err error) string {
	if se, ok := errors.AsType[http2.StreamError](err); ok {
		return fmt.Sprintf("stream error %v on %d", se.Code, se.StreamID)
	}
	if ce, ok := errors.AsType[http2.ConnectionError](err); ok {
		return fmt.Sprintf("connection error %v", http2.ErrCode(ce))
	}
	if err != nil {
		return "read error"
	}
	return fmt.Sprintf("stream %d end=%v truncated=%v fields %q", mh.StreamID, mh.StreamEnded(), mh.Truncated, mh.Fields)
}

// readXNet reads the blocks as x/net's Framer with ReadMetaHeaders does.
func readXNet(wire []byte, maxList uint32, n int) []string {
	fr := http2.NewFramer(nil, bytes.NewReader(wire))
	fr.ReadMetaHeaders = hpack.NewDecoder(DefaultHeaderTable, nil)
	fr.MaxHeaderListSize = maxList
	var out []string
	for range n {
		f, err := fr.ReadFrame()
		mh, _ := f.(*http2.MetaHeadersFrame)
		out = append(out, outcome(mh, err))
		if err != nil {
			break
		}
	}
	return out
}

// readOurs reads them with RequestHeaders after the Framer's ReadFrameHeader.
func readOurs(wire []byte, maxList uint32, n int) []string {
	br := bufio.NewReader(bytes.NewReader(wire))
	fr := http2.NewFramer(nil, br)
	rh := NewRequestHeaders(maxList)
	var out []string
	for range n {
		var mh *http2.MetaHeadersFrame
		var err error
		for mh == nil && err == nil {
			var fh http2.FrameHeader
			if fh, err = fr.ReadFrameHeader(); err == nil {
				mh, err = rh.Read(fh, br)
			}
		}
		out = append(out, outcome(mh, err))
		if err != nil {
			break
		}
	}
	return out
}

// RequestHeaders agrees with x/net's ReadMetaHeaders on every block: the same fields, the
// same truncation at the list size, the same stream and connection errors — over two blocks
// on one connection, so that what the first leaves (the decoder's table, the fields) is seen
// to be carried or reset as x/net does.
func FuzzRequestHeaders(f *testing.F) {
	get := Block(hpack.HeaderField{Name: ":method", Value: "GET"}, hpack.HeaderField{Name: ":path", Value: "/a"},
		hpack.HeaderField{Name: ":scheme", Value: "http"}, hpack.HeaderField{Name: ":authority", Value: "h"},
		hpack.HeaderField{Name: "x-id", Value: "1"})
	first, again, _ := Warm(hpack.HeaderField{Name: ":method", Value: "POST"}, hpack.HeaderField{Name: "x-long", Value: string(bytes.Repeat([]byte("v"), 80))})
	f.Add(get, get, uint8(3), uint16(0))
	f.Add(first, again, uint8(255), uint16(0))
	f.Add(first, again, uint8(1), uint16(60))                                                                                      // truncated
	f.Add(Block(hpack.HeaderField{Name: "Upper", Value: "x"}), get, uint8(255), uint16(0))                                         // bad name
	f.Add(Block(hpack.HeaderField{Name: "a", Value: "x"}, hpack.HeaderField{Name: ":path", Value: "/"}), get, uint8(1), uint16(0)) // pseudo after regular
	f.Add(Block(hpack.HeaderField{Name: ":status", Value: "200"}, hpack.HeaderField{Name: ":path", Value: "/"}), get, uint8(255), uint16(0))
	f.Add(Block(hpack.HeaderField{Name: ":path", Value: "/"}, hpack.HeaderField{Name: ":path", Value: "/"}), get, uint8(255), uint16(0))
	f.Add(Block(hpack.HeaderField{Name: ":nope", Value: "/"}), get, uint8(255), uint16(0))
	f.Add(Block(hpack.HeaderField{Name: "a", Value: "x\x00"}), get, uint8(2), uint16(0))
	f.Add([]byte{0xff, 0xff, 0xff}, get, uint8(255), uint16(0)) // not HPACK
	f.Fuzz(func(t *testing.T, a, b []byte, split uint8, maxList uint16) {
		if len(a) == 0 || len(b) == 0 || len(a)+len(b) > 4<<10 {
			return
		}
		limit := uint32(16 << 10)
		if maxList != 0 {
			limit = uint32(maxList)
		}
		wire := frames(t, int(split), a, b)
		want, got := readXNet(wire, limit, 2), readOurs(wire, limit, 2)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("blocks %x, %x split at %d, list size %d:\n x/net: %q\n ours:  %q", a, b, split, limit, want, got)
		}
	})
}

// A block the client sends again as references to the decoder's table costs no allocation.
func TestRequestHeadersAllocateNothing(t *testing.T) {
	first, again, ok := Warm(hpack.HeaderField{Name: ":method", Value: "GET"}, hpack.HeaderField{Name: ":path", Value: "/api/items"},
		hpack.HeaderField{Name: ":scheme", Value: "http"}, hpack.HeaderField{Name: ":authority", Value: "127.0.0.1:9001"},
		hpack.HeaderField{Name: "user-agent", Value: "gatecrash"})
	if !ok {
		t.Fatal("the block does not fit the table")
	}
	rh := NewRequestHeaders(16 << 10)
	var r bytes.Reader
	read := func(block []byte) *http2.MetaHeadersFrame {
		fh := http2.FrameHeader{Type: http2.FrameHeaders, Flags: http2.FlagHeadersEndHeaders | http2.FlagHeadersEndStream,
			Length: uint32(len(block)), StreamID: 1}
		r.Reset(block)
		mh, err := rh.Read(fh, &r)
		if err != nil || mh == nil {
			t.Fatalf("%v, %v", mh, err)
		}
		return mh
	}
	read(first)
	if mh := read(again); mh.PseudoValue("path") != "/api/items" || len(mh.RegularFields()) != 1 {
		t.Fatalf("the block read again: %q", mh.Fields)
	}
	if n := testing.AllocsPerRun(1000, func() { read(again) }); n != 0 {
		t.Errorf("%.1f allocations per block, want 0", n)
	}
}
