package loadgen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gatecrash/gatecrash/internal/http1"
)

// Request is one request of a targets file (gatecrash load --targets): what one kind of
// request in a mixed load sends.
type Request struct {
	Method string
	URL    string
	// Headers are "Name: value" lines, sent after the load's own (--header).
	Headers []string
	// Body is sent with a Content-Length; nil: none (POST, PUT and PATCH still say
	// Content-Length: 0).
	Body []byte
	// Line is where the request starts in its file, for errors.
	Line int
}

// Limits of a targets file. Every request is kept rendered in memory.
const (
	MaxTargets         = 10000
	MaxTargetsFileSize = 1 << 20
	MaxTargetBodies    = 256 << 20 // all the bodies together
)

// ParseTargets reads a targets file in vegeta's format: requests separated by blank lines,
// each a "METHOD URL" line, then "Name: value" header lines, then optionally "@PATH", a file
// sent as the body (body reads it: the caller resolves PATH and bounds its size). Lines
// starting with # are comments. Every target must go to the same scheme, host and port —
// the proxy under test; errors name the file and line. The requests are sent in turn, one
// after the other, over the load's connections.
func ParseTargets(src []byte, name string, body func(path string) ([]byte, error)) ([]Request, error) {
	var out []Request
	var cur *Request
	var first *target
	total := 0
	lines := bytes.Split(src, []byte("\n"))
	errAt := func(n int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...))
	}
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimRight(string(raw), "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"):
			continue
		case trimmed == "":
			cur = nil // a blank line ends a request
			continue
		case cur == nil: // a request line
			method, u, ok := strings.Cut(trimmed, " ")
			u = strings.TrimSpace(u)
			if !ok || u == "" || strings.Contains(u, " ") {
				return nil, errAt(n, "%q is not a request line; write METHOD URL, e.g. GET http://127.0.0.1:8080/", trimmed)
			}
			if !http1.IsToken(method) {
				return nil, errAt(n, "%q is not an HTTP method token (e.g. GET, POST)", method)
			}
			t, err := parseTarget(u)
			if err != nil {
				return nil, errAt(n, "%v", err)
			}
			if first == nil {
				first = t
			} else if t.https != first.https || t.addr != first.addr || t.host != first.host {
				return nil, errAt(n, "%s goes to %s; every target must go to %s (the proxy under test), like the first one", u,
					schemeHost(t), schemeHost(first))
			}
			if len(out) == MaxTargets {
				return nil, errAt(n, "more than %d targets", MaxTargets)
			}
			out = append(out, Request{Method: method, URL: u, Line: n})
			cur = &out[len(out)-1]
		case strings.HasPrefix(trimmed, "@"):
			if cur.Body != nil {
				return nil, errAt(n, "a second body for the request of line %d; one @FILE each", cur.Line)
			}
			b, err := body(strings.TrimSpace(trimmed[1:]))
			if err != nil {
				return nil, errAt(n, "body: %v", err)
			}
			if total += len(b); total > MaxTargetBodies {
				return nil, errAt(n, "the bodies together are more than %d bytes", MaxTargetBodies)
			}
			cur.Body = b
		default: // a header
			if cur.Body != nil {
				return nil, errAt(n, "header %q after the body; headers come before @FILE", trimmed)
			}
			hn, _, ok := strings.Cut(trimmed, ":")
			if !ok || !http1.IsToken(strings.TrimSpace(hn)) {
				return nil, errAt(n, "%q is not a header \"Name: value\" (or a blank line before the next request)", trimmed)
			}
			cur.Headers = append(cur.Headers, trimmed)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no targets in it; write METHOD URL lines, e.g. GET http://127.0.0.1:8080/", name)
	}
	return out, nil
}

func schemeHost(t *target) string {
	if t.https {
		return "https://" + t.host
	}
	return "http://" + t.host
}
