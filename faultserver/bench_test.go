package faultserver

import (
	"bufio"
	"bytes"
	"context"
	"testing"
)

// loopReader returns the same bytes forever.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(b []byte) (int, error) {
	n := copy(b, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// BenchmarkServeRequest measures the per-request path of a keep-alive connection: parse a
// typical proxied request head, pick no fault, write the canned response.
func BenchmarkServeRequest(b *testing.B) {
	for _, bc := range []struct {
		name   string
		req    string
		faults []string
	}{
		{"get", "GET /api/items?id=42 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n", nil},
		{"post-1k", "POST /api HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\n\r\n" + string(bytes.Repeat([]byte("x"), 1024)), nil},
		{"get-with-faults-not-firing", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", []string{"idle-close:timeout=5s,nth=1000", "rst-headers:match=/never", "status:code=500,every=1000000000"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			for _, spec := range bc.faults {
				f, err := ParseFaultSpec(spec)
				if err != nil {
					b.Fatal(err)
				}
				cfg.Faults = append(cfg.Faults, f)
			}
			s, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			sc := &scriptConn{r: &loopReader{data: []byte(bc.req)}}
			c := s.newConn(context.Background(), sc)
			c.br = bufio.NewReaderSize(sc, readBufSize)
			c.plan = s.plan.Load()
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.req)))
			b.ResetTimer()
			for range b.N {
				if !c.serveRequest() {
					b.Fatal("connection closed")
				}
			}
		})
	}
}

func BenchmarkReadHead(b *testing.B) {
	req := []byte("GET /api/items?id=42 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
	br := bufio.NewReaderSize(&loopReader{data: req}, readBufSize)
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for range b.N {
		if err := readHead(br, &r, DefaultMaxHeaderBytes); err != nil {
			b.Fatal(err)
		}
	}
}
