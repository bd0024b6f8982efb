package loadgen

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/gatecrash/gatecrash/results"
)

// phase is where in a request an error happened.
type phase uint8

const (
	phaseConnect   phase = iota // TCP connect
	phaseHandshake              // TLS handshake
	phaseExchange               // writing the request or reading the response
)

// classify maps an error to its outcome class. gotBytes says whether any byte of the response
// had arrived. It is the one place where raw OS errors are interpreted.
func classify(p phase, err error, gotBytes bool) results.Class {
	switch p {
	case phaseConnect:
		return results.ConnectError
	case phaseHandshake:
		return results.TLSError
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), isNetTimeout(err):
		return results.Timeout
	case errors.Is(err, errMalformed):
		return results.Malformed
	case isTLSFailure(err):
		return results.TLSError
	case gotBytes:
		return results.Truncated
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return results.Reset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return results.NoResponse
	}
	// Anything else ended the exchange before a response began (e.g. EHOSTUNREACH on a
	// live connection): count it with resets; the exemplar keeps the raw error.
	return results.Reset
}

func isNetTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

func isTLSFailure(err error) bool {
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.AlertError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	_, ok := errors.AsType[x509.CertificateInvalidError](err)
	return ok
}
