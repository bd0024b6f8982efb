package results

import "fmt"

// Class is the outcome class of one request. Every request lands in exactly one class.
type Class uint8

// Outcome classes (gatecrash load --help lists them with their descriptions, from
// classDescriptions below). The order is the order of reports.
const (
	OK           Class = iota // 1xx-3xx final response, complete
	Status4xx                 // any 4xx
	Status502                 // 502 Bad Gateway
	Status503                 // 503 Service Unavailable
	Status504                 // 504 Gateway Timeout
	Status5xx                 // any other 5xx
	NoResponse                // connection closed (FIN/EOF) before any response byte
	Reset                     // connection reset (RST) before any response byte
	Truncated                 // response started, then ended early
	Timeout                   // no complete response within the request timeout
	ConnectError              // connect refused, unreachable or timed out
	TLSError                  // TLS handshake failed
	Malformed                 // bytes that are not a valid HTTP/1.1 response
	// HTTP/2 (load --http2): a stream that ended without its response, the connection going on.
	RefusedStream     // RST_STREAM REFUSED_STREAM before any response: not processed
	StreamReset       // RST_STREAM with another code before any response
	GoAway            // above a GOAWAY's last stream id: not processed
	NumClasses    int = iota
)

var classNames = [NumClasses]string{"ok", "4xx", "502", "503", "504", "5xx", "no-response", "reset",
	"truncated", "timeout", "connect-error", "tls-error", "malformed", "refused-stream", "stream-reset", "goaway"}

var classDescriptions = [NumClasses]string{
	"1xx-3xx final response, complete",
	"any 4xx status",
	"502 Bad Gateway",
	"503 Service Unavailable",
	"504 Gateway Timeout",
	"any other 5xx status",
	"connection closed (FIN/EOF) before any response byte",
	"connection reset (RST) before any response byte",
	"response started, then ended early (mid-head, short body, missing last chunk)",
	"no complete response within the request timeout",
	"connect refused, unreachable or timed out",
	"TLS handshake failed",
	"bytes that are not a valid HTTP/1.1 response",
	"HTTP/2: the stream was refused (RST_STREAM REFUSED_STREAM) before any response: not processed, safe to send again",
	"HTTP/2: the stream was reset (RST_STREAM, another code; the error names it) before any response",
	"HTTP/2: the stream was above the last stream id of the server's GOAWAY: not processed, safe to send again",
}

// Classes lists every class in report order.
func Classes() []Class {
	out := make([]Class, NumClasses)
	for i := range out {
		out[i] = Class(i)
	}
	return out
}

// String returns the class name used in JSON, reports and thresholds ("ok", "502", ...).
func (c Class) String() string {
	if int(c) < NumClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Description says what the class means, for reports and --help.
func (c Class) Description() string {
	if int(c) < NumClasses {
		return classDescriptions[c]
	}
	return ""
}

// IsError reports whether the class is anything but ok.
func (c Class) IsError() bool { return c != OK }

// ParseClass returns the class with the given name.
func ParseClass(s string) (Class, error) {
	for i, n := range classNames {
		if n == s {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("unknown outcome class %q; allowed: %v", s, classNames)
}

// ClassOfStatus returns the class of a complete response with the given status code.
func ClassOfStatus(status int) Class {
	switch {
	case status >= 100 && status < 400:
		return OK
	case status >= 400 && status < 500:
		return Status4xx
	case status == 502:
		return Status502
	case status == 503:
		return Status503
	case status == 504:
		return Status504
	case status >= 500 && status < 600:
		return Status5xx
	}
	return Malformed
}

// MarshalText writes the class name (so classes are readable JSON map keys).
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a class name.
func (c *Class) UnmarshalText(b []byte) error {
	v, err := ParseClass(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// EndsConnection reports whether a request of class c ended with the connection closing
// under it, before a complete response: no-response, reset, truncated. Only those can be a
// race between a request and the peer's close.
func (c Class) EndsConnection() bool { return c == NoResponse || c == Reset || c == Truncated }

// DropsUpstream reports whether a request of class c leaves the proxy without the upstream
// connection it used: a gateway error (502, 504: the proxy gave that connection up) or the
// client's connection ending under it. A 503 or another 5xx is an answer the origin may have
// given on a connection it keeps.
func (c Class) DropsUpstream() bool { return c == Status502 || c == Status504 || c.EndsConnection() }

// ReuseSplit describes how the errors of one class on reused connections split into stale
// and race ("stale 20, race 0"), or "" when none were on a reused connection.
func (o *Outcome) ReuseSplit() string {
	if o == nil || o.Stale+o.Race == 0 {
		return ""
	}
	return fmt.Sprintf("stale %s, race %s", FormatCount(o.Stale), FormatCount(o.Race))
}

// ReusedErrors lists, for each error class with errors on reused connections, the class and
// its split: "no-response 20 (stale 20, race 0)"; empty when there are none.
func (r *Result) ReusedErrors() []string {
	var out []string
	for _, c := range Classes() {
		if o := r.Outcomes[c]; c.IsError() && o.ReuseSplit() != "" {
			out = append(out, fmt.Sprintf("%s %s (%s)", c, FormatCount(o.Stale+o.Race), o.ReuseSplit()))
		}
	}
	return out
}
