package loadgen

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
