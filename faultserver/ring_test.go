package faultserver

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

// Through the io_uring, a body far larger than what a connection may have written ahead
// (ringWriteAhead) reaches a client that reads slowly, whole and in order, on keep-alive
// requests served by the ring; the bytes written ahead stay bounded meanwhile. (Run by
// TestSteadyPathThroughIOUring.)
func ringLargeBodyToASlowReader(t *testing.T, opts ...Option) {
	cfg := DefaultConfig()
	cfg.Response.BodySize = 3 << 20
	s, addr, _ := startServerTLS(t, cfg, false, opts...)
	c := dial(t, addr)
	br := bufio.NewReaderSize(c, 1024)
	want := s.plan.Load().resp.wire[modeFor(&Request{}, true)][s.plan.Load().resp.headLen[modeFor(&Request{}, true)]:]
	for i := range 3 {
		send(t, c, getReq)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		var body bytes.Buffer
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			body.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("request %d: after %d bytes: %v", i, body.Len(), err)
			}
			if i == 1 && body.Len() < 1<<20 {
				time.Sleep(time.Millisecond) // a slow reader for the first MiB
			}
		}
		if !bytes.Equal(body.Bytes(), want) {
			t.Fatalf("request %d: body of %d bytes differs from the server's %d", i, body.Len(), len(want))
		}
	}
	c.Close() // the steady path's count is added when its wait ends
	steadyServedAfter(t, s, 2)
	if got := s.stats.ringRecvs.Load(); got < 2 {
		t.Fatalf("the io_uring completed %d reads; the 2 keep-alive requests went elsewhere", got)
	}
	if got := s.stats.ringAheadMax.Load(); got == 0 || got > ringWriteAhead {
		t.Fatalf("at most %d bytes were written ahead of the ring's sends; want some, and at most %d", got, ringWriteAhead)
	}
}
