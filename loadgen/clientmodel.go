package loadgen

import (
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// ClientKind names how a client decides whether an idle pooled connection may be reused.
type ClientKind string

// Client models, each standing for real clients.
const (
	// Checked looks at every idle connection before reusing it (a non-blocking read: is an
	// EOF, an RST or an unsolicited byte already there?) and opens a new one instead when the
	// peer has closed it. Go's http.Transport (its background read loop) and Node's http.Agent
	// (which drops a socket on 'end') behave like this, and so does curl. Only a close that
	// crosses the request in flight is an error.
	Checked ClientKind = "checked"
	// ValidateAfter checks only connections idle longer than its age: Apache HttpClient 4.5's
	// validateAfterInactivity (2 s by default), the source of NoHttpResponseException in
	// chains of Java services. "validate-after=2s" reproduces HttpClient's default.
	ValidateAfter ClientKind = "validate-after"
	// Naive never checks: HttpClient with the check off, and many hand-written pools. Every
	// close that arrived while the connection sat idle becomes an error on its next request.
	Naive ClientKind = "naive"
)

// ClientModel is a parsed client model.
type ClientModel struct {
	Kind ClientKind
	// After is ValidateAfter's age: connections idle longer than this are checked.
	After time.Duration
}

// checks reports whether the model looks at a connection that sat idle for idle.
func (m ClientModel) checks(idle time.Duration) bool {
	switch m.Kind {
	case Checked:
		return true
	case ValidateAfter:
		return idle > m.After
	}
	return false
}

// String returns the model as it is written: "checked", "naive", "validate-after=2s".
func (m ClientModel) String() string {
	if m.Kind == ValidateAfter {
		return string(ValidateAfter) + "=" + m.After.String()
	}
	return string(m.Kind)
}

// ParseClientModel reads a client model as written in --client or load.client.
func ParseClientModel(s string) (ClientModel, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(s), "=")
	switch ClientKind(name) {
	case Checked, Naive:
		if !hasArg {
			return ClientModel{Kind: ClientKind(name)}, nil
		}
	case ValidateAfter:
		d, err := yamlconf.ParseDuration(arg)
		if hasArg && err == nil && d > 0 {
			return ClientModel{Kind: ValidateAfter, After: d}, nil
		}
		return ClientModel{}, fieldErr("client", "%q: validate-after takes the idle age past which a connection is checked, "+
			"e.g. validate-after=2s (Apache HttpClient's default)", s)
	}
	return ClientModel{}, fieldErr("client", "%q is not a client model; allowed: checked, validate-after=DUR, naive", s)
}
