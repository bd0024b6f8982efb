package h2wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func TestPrefaced(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{http2.ClientPreface + "\x00\x00", true},
		{http2.ClientPreface, true},
		{"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", false}, // the preface's length, not its bytes
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"PRI /x HTTP/1.1\r\nHost: x\r\n\r\n", false}, // a method named PRI
	} {
		br := bufio.NewReader(strings.NewReader(c.in))
		if got := Prefaced(br); got != c.want {
			t.Errorf("Prefaced(%q) = %v, want %v", c.in, got, c.want)
		}
		if br.Buffered() != len(c.in) && len(c.in) < 4096 {
			if b, _ := br.Peek(1); len(b) == 0 || b[0] != c.in[0] {
				t.Errorf("Prefaced(%q) took bytes", c.in)
			}
		}
	}
	// A short HTTP/1.1 request ends with the client waiting: the peek of four must not wait for
	// the preface's 24.
	r, w := io.Pipe()
	go w.Write([]byte("GET / HTTP/1.1\r\n"))
	if Prefaced(bufio.NewReader(r)) {
		t.Fatal("an HTTP/1.1 request line read as the preface")
	}
}

// settingsFrame reads back a SETTINGS frame carrying settings.
func settingsFrame(t *testing.T, settings ...http2.Setting) *http2.SettingsFrame {
	t.Helper()
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, &buf)
	if err := fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	return f.(*http2.SettingsFrame)
}

func TestPeerApply(t *testing.T) {
	p := NewPeer()
	if p.InitialWindow != DefaultWindow || p.MaxFrame != DefaultMaxFrame || p.HeaderTable != DefaultHeaderTable ||
		p.Said != nil {
		t.Fatalf("NewPeer() = %+v", p)
	}
	d, err := p.Apply(settingsFrame(t, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 15}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0},
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 4}))
	if err != nil || d != 1<<20-DefaultWindow {
		t.Fatalf("Apply: delta %d, %v; want %d", d, err, 1<<20-DefaultWindow)
	}
	if p.InitialWindow != 1<<20 || p.MaxFrame != 1<<15 || p.HeaderTable != 0 ||
		p.Said[http2.SettingMaxConcurrentStreams] != 4 || len(p.Said) != 4 {
		t.Fatalf("after Apply: %+v", p)
	}
	// The window may shrink: open streams' windows go down by as much (and may go negative).
	if d, _ := p.Apply(settingsFrame(t, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})); d != 100-1<<20 {
		t.Fatalf("shrinking delta %d", d)
	}
	// Invalid values are the connection errors RFC 9113 names; the ones before are kept. (A
	// window over 2^31-1 the Framer itself refuses as FLOW_CONTROL_ERROR, so no frame has it.)
	for _, c := range []struct {
		s    http2.Setting
		code http2.ErrCode
	}{
		{http2.Setting{ID: http2.SettingMaxFrameSize, Val: 100}, http2.ErrCodeProtocol},
		{http2.Setting{ID: http2.SettingEnablePush, Val: 2}, http2.ErrCodeProtocol},
	} {
		p := NewPeer()
		_, err := p.Apply(settingsFrame(t, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 9}, c.s))
		var ce http2.ConnectionError
		if !errors.As(err, &ce) || http2.ErrCode(ce) != c.code {
			t.Errorf("%v: err %v, want connection error %v", c.s, err, c.code)
		}
		if p.Said[http2.SettingMaxConcurrentStreams] != 9 {
			t.Errorf("%v: the valid setting before it was lost: %+v", c.s, p)
		}
	}
}

func TestStartClient(t *testing.T) {
	for _, win := range []uint32{DefaultWindow, 1 << 30} {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		fr := http2.NewFramer(bw, nil)
		if err := StartClient(bw, fr, win, http2.Setting{ID: http2.SettingEnablePush, Val: 0}); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out.Bytes(), Preface) {
			t.Fatalf("no preface: %q", out.Bytes())
		}
		rd := http2.NewFramer(nil, bytes.NewReader(out.Bytes()[len(Preface):]))
		f, err := rd.ReadFrame()
		if s, ok := f.(*http2.SettingsFrame); err != nil || !ok || s.IsAck() || s.NumSettings() != 1 {
			t.Fatalf("first frame %v, %v; want SETTINGS with one setting", f, err)
		}
		f, err = rd.ReadFrame()
		if win == DefaultWindow {
			if err != io.EOF {
				t.Fatalf("window %d: a frame after SETTINGS: %v %v", win, f, err)
			}
			continue
		}
		if wu, ok := f.(*http2.WindowUpdateFrame); err != nil || !ok || wu.StreamID != 0 || wu.Increment != win-DefaultWindow {
			t.Fatalf("window %d: %v, %v; want the connection's WINDOW_UPDATE by %d", win, f, err, win-DefaultWindow)
		}
	}
	if err := StartClient(bufio.NewWriter(io.Discard), http2.NewFramer(io.Discard, nil), 1<<31); err == nil {
		t.Fatal("a receive window over 2^31-1 accepted")
	}
}

// A Block decodes alone on any connection: with a decoder that keeps no table, and twice in a
// row with one decoder (it names no entry the first use added).
func TestBlockNamesNoTableEntry(t *testing.T) {
	b := Block(hpack.HeaderField{Name: ":method", Value: "POST"}, hpack.HeaderField{Name: "x-gatecrash", Value: "1"})
	dec := hpack.NewDecoder(0, nil)
	for i := 0; i < 2; i++ {
		fs, err := dec.DecodeFull(b)
		if err != nil || len(fs) != 2 || fs[1].Value != "1" {
			t.Fatalf("use %d: %v, %v", i, fs, err)
		}
	}
}

// An Encoder told the peer keeps no table writes blocks each decodable by a fresh decoder of
// size 0 (nginx's grpc module); one not told names the entries of earlier blocks.
func TestEncoderPeerTable(t *testing.T) {
	fields := []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "text/plain"}}
	decodeFresh := func(e *Encoder) error {
		for i := 0; i < 3; i++ {
			if _, err := hpack.NewDecoder(0, nil).DecodeFull(e.Encode(fields...)); err != nil {
				return err
			}
		}
		return nil
	}
	e := NewEncoder()
	e.SetPeerTable(0)
	if err := decodeFresh(e); err != nil {
		t.Fatalf("told the peer's table is 0: %v", err)
	}
	if err := decodeFresh(NewEncoder()); err == nil {
		t.Fatal("an encoder not told decoded with no table: the test cannot tell the two apart")
	}
}

// Warm's again is a few bytes, and decodes to the same fields on a connection where first went
// before it (one decoder, in order, any number of times).
func TestWarm(t *testing.T) {
	fields := []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":authority", Value: "127.0.0.1:8080"},
		{Name: "user-agent", Value: "gatecrash"}, {Name: "x-a", Value: "b"}}
	first, again, ok := Warm(fields...)
	if !ok || len(again) >= len(first) || len(again) > len(fields) {
		t.Fatalf("Warm: first %d bytes, again %d, ok %v", len(first), len(again), ok)
	}
	dec := hpack.NewDecoder(DefaultHeaderTable, nil)
	for i, b := range [][]byte{first, again, again, again} {
		got, err := dec.DecodeFull(b)
		if err != nil || len(got) != len(fields) {
			t.Fatalf("block %d: %v, %v", i, got, err)
		}
		for j := range got {
			if got[j].Name != fields[j].Name || got[j].Value != fields[j].Value {
				t.Fatalf("block %d field %d: %v, want %v", i, j, got[j], fields[j])
			}
		}
	}
	// again alone (no first before it) names entries the peer does not have.
	if _, err := hpack.NewDecoder(DefaultHeaderTable, nil).DecodeFull(again); err == nil {
		t.Fatal("again decoded without first: the test cannot tell them apart")
	}
	// A field larger than the table empties it on each use: again stays literal, and still
	// decodes in turn.
	big := []hpack.HeaderField{{Name: "x-a", Value: "b"}, {Name: "x-big", Value: strings.Repeat("v", 5000)}}
	first, again, ok = Warm(big...)
	if !ok {
		t.Fatal("Warm refused fields whose again adds nothing that moves")
	}
	dec = hpack.NewDecoder(DefaultHeaderTable, nil)
	dec.SetMaxStringLength(1 << 20)
	for i, b := range [][]byte{first, again, again} {
		if got, err := dec.DecodeFull(b); err != nil || len(got) != 2 || got[1].Value != big[1].Value {
			t.Fatalf("big block %d: %v", i, err)
		}
	}
}

// HeaderBlock agrees with x/net's own HEADERS parser: the same fragment for every combination
// of padding and priority, and an error where it gives one.
func TestHeaderBlockAgreesWithFramer(t *testing.T) {
	frag := []byte("\x82\x86\x84block")
	for _, padded := range []bool{false, true} {
		for _, prio := range []bool{false, true} {
			var buf bytes.Buffer
			fr := http2.NewFramer(&buf, &buf)
			p := http2.HeadersFrameParam{StreamID: 3, BlockFragment: frag, EndHeaders: true}
			if padded {
				p.PadLength = 7
			}
			if prio {
				p.Priority = http2.PriorityParam{StreamDep: 1, Weight: 9}
			}
			if err := fr.WriteHeaders(p); err != nil {
				t.Fatal(err)
			}
			raw := bytes.Clone(buf.Bytes())
			fh, err := http2.ReadFrameHeader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			got, err := HeaderBlock(fh, raw[9:])
			if err != nil || !bytes.Equal(got, frag) {
				t.Errorf("padded %v prio %v: %q, %v; want %q", padded, prio, got, err, frag)
			}
		}
	}
	// Malformed: padding longer than the payload, a priority cut short, stream 0.
	bad := []struct {
		fh      http2.FrameHeader
		payload []byte
	}{
		{http2.FrameHeader{Type: http2.FrameHeaders, Flags: http2.FlagHeadersPadded, StreamID: 1}, []byte{9, 'a'}},
		{http2.FrameHeader{Type: http2.FrameHeaders, Flags: http2.FlagHeadersPadded, StreamID: 1}, nil},
		{http2.FrameHeader{Type: http2.FrameHeaders, Flags: http2.FlagHeadersPriority, StreamID: 1}, []byte{0, 0, 1}},
		{http2.FrameHeader{Type: http2.FrameHeaders, StreamID: 0}, []byte("x")},
		{http2.FrameHeader{Type: http2.FrameContinuation, StreamID: 0}, []byte("x")},
	}
	for i, b := range bad {
		var ce http2.ConnectionError
		if _, err := HeaderBlock(b.fh, b.payload); !errors.As(err, &ce) || http2.ErrCode(ce) != http2.ErrCodeProtocol {
			t.Errorf("bad %d: err %v, want PROTOCOL_ERROR", i, err)
		}
	}
	if got, err := HeaderBlock(http2.FrameHeader{Type: http2.FrameContinuation, StreamID: 5}, frag); err != nil || !bytes.Equal(got, frag) {
		t.Errorf("CONTINUATION: %q, %v", got, err)
	}
}

// TestIndexedOnly: a block of indexed fields (short and multi-byte indexes) is recognised; one
// with a literal, a table size update, or a cut index is not — and a block x/net's decoder finds
// made of indexed fields leaves the decoder's table as it was, which is what a reader keeping
// the block's meaning relies on.
func TestIndexedOnly(t *testing.T) {
	first, again, ok := Warm(hpack.HeaderField{Name: ":status", Value: "200"},
		hpack.HeaderField{Name: "content-type", Value: "text/plain"}, hpack.HeaderField{Name: "x-a", Value: "1"})
	if !ok {
		t.Fatal("Warm refused three small fields")
	}
	for _, c := range []struct {
		name  string
		block []byte
		want  bool
	}{
		{"static index 8 (:status 200)", []byte{0x88}, true},
		{"warm block (dynamic references)", again, true},
		{"index 127 and up: continuation bytes", []byte{0xff, 0x00, 0x88, 0xff, 0x81, 0x01}, true},
		{"first block (literals that add entries)", first, false},
		{"literal without indexing", []byte{0x88, 0x08, 0x01, '1'}, false},
		{"table size update", []byte{0x20, 0x88}, false},
		{"index cut in its continuation bytes", []byte{0x88, 0xff, 0x81}, false},
		{"empty", nil, false},
	} {
		if got := IndexedOnly(c.block); got != c.want {
			t.Errorf("%s (% x): IndexedOnly = %v, want %v", c.name, c.block, got, c.want)
		}
	}

	dec := hpack.NewDecoder(DefaultHeaderTable, nil)
	if _, err := dec.DecodeFull(first); err != nil {
		t.Fatal(err)
	}
	before, err := dec.DecodeFull(again)
	if err != nil {
		t.Fatal(err)
	}
	after, err := dec.DecodeFull(again)
	if err != nil || len(after) != len(before) {
		t.Fatalf("the same indexed-only block decoded twice: %v then %v (%v)", before, after, err)
	}
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("the same indexed-only block decoded to %v, then %v", before, after)
		}
	}
}
