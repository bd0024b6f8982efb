package loadgen

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/results"
)

// repeatReader returns the same bytes forever.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(b []byte) (int, error) {
	n := copy(b, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func BenchmarkReadResponse(b *testing.B) {
	for _, bc := range []struct{ name, resp string }{
		{"nginx-200", "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 09:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"},
		{"chunked-1k", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + string(make([]byte, 1024)) + "\r\n0\r\n\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			br := bufio.NewReaderSize(&repeatReader{data: []byte(bc.resp)}, 8<<10)
			var r response
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.resp)))
			for range b.N {
				if err := readResponseHead(br, &r); err != nil {
					b.Fatal(err)
				}
				if err := readBody(br, &r, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	errs := []error{io.EOF, syscall.ECONNRESET, io.ErrUnexpectedEOF}
	b.ReportAllocs()
	for i := range b.N {
		classify(phaseExchange, errs[i%len(errs)], i%2 == 0)
	}
}

// BenchmarkRecord measures recording one finished request into a shard (histogram, counts,
// time series), the per-request bookkeeping cost of the load generator.
func BenchmarkRecord(b *testing.B) {
	start := time.Now()
	rec := newRecorder(start)
	s := rec.shardFor(0)
	a := attempt{class: results.OK, intended: start, start: start, reused: true}
	b.ReportAllocs()
	for i := range b.N {
		a.end = start.Add(time.Duration(i%5000) * time.Microsecond)
		s.record(&a)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	start := time.Now()
	rec := newRecorder(start)
	var worker atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := int(worker.Add(1))
		s := rec.shardFor(w)
		a := attempt{class: results.OK, intended: start, start: start}
		i := 0
		for pb.Next() {
			i++
			a.end = start.Add(time.Duration(i%5000) * time.Microsecond)
			s.record(&a)
		}
	})
}

// BenchmarkLook is the client models' cost per reuse: one non-blocking MSG_PEEK recv on an
// idle loopback connection.
func BenchmarkLook(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if srv := <-accepted; srv != nil {
		defer srv.Close()
	}
	l := newLooker(c.(*net.TCPConn))
	if !lookSupported {
		b.Skip("this platform cannot look")
	}
	b.ReportAllocs()
	for b.Loop() {
		if l.look() != alive {
			b.Fatal("an open idle connection looked closed")
		}
	}
}

// BenchmarkH2Streams drives b.N requests as HTTP/2 streams (1 connection x 100 streams) at an
// in-process h2c fault server; the figures include the server's share (it runs in the same
// process). bench/load-h2-vs-h2load.sh measures the client alone against h2load.
func BenchmarkH2Streams(b *testing.B) {
	_, plain, _ := faultservertest.OriginH2(b)
	b.ReportAllocs()
	res, err := Run(context.Background(), Config{URL: "http://" + plain + "/", HTTP2: true, Connections: 1, Streams: 100,
		Requests: int64(b.N), Timeout: yamlconf.Duration(10 * time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	if res.Count(results.OK) != int64(b.N) {
		b.Fatalf("%d ok of %d", res.Count(results.OK), b.N)
	}
}

// quietH2Server answers every request stream with one HEADERS frame (:status 200, END_STREAM)
// from bytes laid out once, writing whatever answers one read brought in one write: an h2c
// server that allocates nothing per stream, so that BenchmarkH2ClientStreams counts the
// client's allocations alone.
func quietH2Server(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br, bw := bufio.NewReaderSize(nc, 64<<10), bufio.NewWriterSize(nc, 64<<10)
				if _, err := br.Discard(len(http2.ClientPreface)); err != nil {
					return
				}
				fr := http2.NewFramer(bw, br)
				fr.WriteSettings()
				// HEADERS, END_STREAM|END_HEADERS, stream id patched in, block ":status: 200" (static 8).
				answer := []byte{0, 0, 1, byte(http2.FrameHeaders), byte(http2.FlagHeadersEndStream | http2.FlagHeadersEndHeaders), 0, 0, 0, 0, 0x88}
				ack := []byte{0, 0, 0, byte(http2.FrameSettings), byte(http2.FlagSettingsAck), 0, 0, 0, 0}
				payload := make([]byte, 1<<16)
				for {
					fh, err := http2.ReadFrameHeader(br)
					if err != nil || int(fh.Length) > len(payload) {
						return
					}
					if _, err := io.ReadFull(br, payload[:fh.Length]); err != nil {
						return
					}
					switch {
					case fh.Type == http2.FrameSettings && !fh.Flags.Has(http2.FlagSettingsAck):
						bw.Write(ack)
					case fh.Type == http2.FrameHeaders && fh.Flags.Has(http2.FlagHeadersEndStream):
						binary.BigEndian.PutUint32(answer[5:9], fh.StreamID)
						bw.Write(answer)
					}
					if br.Buffered() < 9 && bw.Flush() != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkH2ClientStreams: the load generator's HTTP/2 path alone (1 connection x 100
// streams, closed loop) against quietH2Server; allocs/op is the client's per stream.
func BenchmarkH2ClientStreams(b *testing.B) {
	addr := quietH2Server(b)
	b.ReportAllocs()
	res, err := Run(context.Background(), Config{URL: "http://" + addr + "/", HTTP2: true, Connections: 1, Streams: 100,
		Requests: int64(b.N), Timeout: yamlconf.Duration(10 * time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	if res.Count(results.OK) != int64(b.N) {
		b.Fatalf("%d ok of %d", res.Count(results.OK), b.N)
	}
}
