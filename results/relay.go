package results

import "fmt"

// RelayCounts is what a relaying fault server (`gatecrash serve --upstream`) did with the
// app behind it. The app's own failures are counted here, apart from the faults gatecrash
// injected: an app that refuses connections or resets one is never a fault in Faults.
type RelayCounts struct {
	// Upstream is the app's address as given (http://host:port or https://host:port).
	Upstream string `json:"upstream"`
	// ConnectionsOpened counts connections to the app: one per downstream connection that
	// sent a request (1:1), again after the app closed one.
	ConnectionsOpened uint64 `json:"connections_opened"`
	// ConnectionsOpen is the number open at the time of the snapshot.
	ConnectionsOpen int64 `json:"connections_open"`
	// RequestsForwarded counts requests sent to the app; RequestsOnReused those of them sent
	// on a connection that had carried a request before.
	RequestsForwarded uint64 `json:"requests_forwarded"`
	RequestsOnReused  uint64 `json:"requests_on_reused"`
	// ResponsesRelayed counts the app's responses passed on in full.
	ResponsesRelayed uint64 `json:"responses_relayed"`
	// AppClosedIdle counts idle connections the app ended (its keep-alive timeout): the relay
	// ended the downstream connection the same way. AppClosedAfterResponse counts responses
	// after which the app closed ("Connection: close", or a body delimited by the close).
	AppClosedIdle          uint64 `json:"app_closed_idle"`
	AppClosedAfterResponse uint64 `json:"app_closed_after_response"`
	// RelayClosed counts app connections the relay ended: its downstream connection ended, or
	// a fault ended it.
	RelayClosed uint64 `json:"relay_closed"`
	// AppErrors are the app's failures, by kind.
	AppErrors AppErrors `json:"app_errors"`
}

// AppErrors counts the app's failures as the relay saw them.
type AppErrors struct {
	// Connect: the connection to the app could not be opened (refused, unreachable, TLS
	// handshake failed); the relay answered 502.
	Connect uint64 `json:"connect"`
	// Reset: the app reset the connection during an exchange.
	Reset uint64 `json:"reset"`
	// Closed: the app closed the connection before its response was complete.
	Closed uint64 `json:"closed"`
	// Timeout: the app did not answer (or went silent mid-response) within the relay's
	// upstream timeout.
	Timeout uint64 `json:"timeout"`
	// Malformed: the app sent bytes that are not an HTTP/1.1 response, or sent them when no
	// request was outstanding.
	Malformed uint64 `json:"malformed"`
}

// Total sums the app's errors.
func (a AppErrors) Total() uint64 { return a.Connect + a.Reset + a.Closed + a.Timeout + a.Malformed }

// counters lists r's counters (not the gauge), so that Add and Sub name each field once.
func (r *RelayCounts) counters() []*uint64 {
	return []*uint64{&r.ConnectionsOpened, &r.RequestsForwarded, &r.RequestsOnReused, &r.ResponsesRelayed,
		&r.AppClosedIdle, &r.AppClosedAfterResponse, &r.RelayClosed,
		&r.AppErrors.Connect, &r.AppErrors.Reset, &r.AppErrors.Closed, &r.AppErrors.Timeout, &r.AppErrors.Malformed}
}

// Add adds other's counts to r.
func (r *RelayCounts) Add(other *RelayCounts) {
	if r.Upstream == "" {
		r.Upstream = other.Upstream
	}
	mine, theirs := r.counters(), other.counters()
	for i := range mine {
		*mine[i] += *theirs[i]
	}
	r.ConnectionsOpen += other.ConnectionsOpen
}

// Sub returns the counts that accumulated from before to r (the gauge is r's).
func (r *RelayCounts) Sub(before *RelayCounts) *RelayCounts {
	d := *r
	mine, theirs := d.counters(), before.counters()
	for i := range mine {
		*mine[i] -= *theirs[i]
	}
	return &d
}

// Sentence says in one line what the relay did with the app, for reports.
func (r *RelayCounts) Sentence() string {
	e := r.AppErrors
	s := fmt.Sprintf("the app at %s got %s requests on %s connections (%s on a reused one) and closed %s idle ones itself",
		r.Upstream, FormatCount(int64(r.RequestsForwarded)), FormatCount(int64(r.ConnectionsOpened)),
		FormatCount(int64(r.RequestsOnReused)), FormatCount(int64(r.AppClosedIdle)))
	if e.Total() == 0 {
		return s + "; no app errors"
	}
	return s + fmt.Sprintf("; app errors (not injected faults): %s — connect %d, reset %d, closed early %d, timeout %d, malformed %d",
		FormatCount(int64(e.Total())), e.Connect, e.Reset, e.Closed, e.Timeout, e.Malformed)
}
