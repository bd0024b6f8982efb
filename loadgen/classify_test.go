package loadgen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/gatecrash/gatecrash/results"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	opErr := func(op string, errno syscall.Errno) error {
		return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, errno)}
	}
	for _, tc := range []struct {
		name     string
		phase    phase
		err      error
		gotBytes bool
		want     results.Class
	}{
		{"refused", phaseConnect, opErr("dial", syscall.ECONNREFUSED), false, results.ConnectError},
		{"unreachable", phaseConnect, opErr("dial", syscall.EHOSTUNREACH), false, results.ConnectError},
		{"connect timeout", phaseConnect, os.ErrDeadlineExceeded, false, results.ConnectError},
		{"handshake alert", phaseHandshake, tls.AlertError(40), false, results.TLSError},
		{"handshake timeout", phaseHandshake, os.ErrDeadlineExceeded, false, results.TLSError},
		{"handshake EOF", phaseHandshake, io.EOF, false, results.TLSError},
		{"EOF before any byte", phaseExchange, io.EOF, false, results.NoResponse},
		{"unexpected EOF before any byte", phaseExchange, io.ErrUnexpectedEOF, false, results.NoResponse},
		{"RST before any byte", phaseExchange, opErr("read", syscall.ECONNRESET), false, results.Reset},
		{"EPIPE on write", phaseExchange, opErr("write", syscall.EPIPE), false, results.Reset},
		{"RST on write", phaseExchange, opErr("write", syscall.ECONNRESET), false, results.Reset},
		{"EOF mid-response", phaseExchange, io.ErrUnexpectedEOF, true, results.Truncated},
		{"RST mid-response", phaseExchange, opErr("read", syscall.ECONNRESET), true, results.Truncated},
		{"deadline before any byte", phaseExchange, opErr("read", syscall.Errno(0)), false, results.Reset},
		{"deadline", phaseExchange, fmt.Errorf("read: %w", os.ErrDeadlineExceeded), false, results.Timeout},
		{"deadline mid-body wins over truncated", phaseExchange, os.ErrDeadlineExceeded, true, results.Timeout},
		{"malformed", phaseExchange, malformed("bad status line"), true, results.Malformed},
		{"malformed before any byte counted", phaseExchange, malformed("x"), false, results.Malformed},
		{"TLS record error mid-exchange", phaseExchange, tls.RecordHeaderError{Msg: "bad"}, true, results.TLSError},
		{"unknown error, no bytes", phaseExchange, errors.New("weird"), false, results.Reset},
		{"unknown error, some bytes", phaseExchange, errors.New("weird"), true, results.Truncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := classify(tc.phase, tc.err, tc.gotBytes); got != tc.want {
				t.Fatalf("classify(%v, gotBytes=%v) = %s, want %s", tc.err, tc.gotBytes, got, tc.want)
			}
		})
	}
}
