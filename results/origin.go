package results

import (
	"maps"
	"slices"
	"time"
)

// OriginCounts are an origin's counters: cumulative at the fault server (its GET /stats and
// faultserver.Stats embed them), or what accumulated between two snapshots in a result. The
// field names, the JSON and the arithmetic (Add, Sub) are written here once, for both.
type OriginCounts struct {
	// ConnectionsAccepted counts TCP connections the origin accepted.
	ConnectionsAccepted uint64 `json:"connections_accepted"`
	// TLSHandshakes and TLSHandshakeErrors count completed and failed TLS handshakes.
	TLSHandshakes      uint64 `json:"tls_handshakes"`
	TLSHandshakeErrors uint64 `json:"tls_handshake_errors"`
	// RequestsStarted counts requests of which at least one byte arrived (a proxy's retry
	// shows up twice); RequestsRead those whose whole head was read.
	RequestsStarted uint64 `json:"requests_started"`
	RequestsRead    uint64 `json:"requests_read"`
	// ResponsesCompleted counts responses written in full (fault or not).
	ResponsesCompleted uint64 `json:"responses_completed"`
	// BadRequests counts requests the origin's parser rejected (400, 408, 431, ...).
	BadRequests uint64 `json:"bad_requests"`
	// Closes counts connection ends by side and by what went on the wire.
	Closes OriginCloses `json:"closes"`
	// Faults counts faults that acted, by kind (the fault server lists every kind).
	Faults map[string]uint64 `json:"faults"`
	// RequestFaultsInjected counts the faults of kinds that fail the request they act on, as
	// the fault server classified them (by their phase): each is a request the client should
	// have seen fail, unless the proxy retried it. Nil in results of older gatecrash
	// versions: then RequestFaults classifies by kind name.
	RequestFaultsInjected *uint64 `json:"request_faults,omitempty"`
	// Relay is what the origin did with the app behind it when it was a relay (serve
	// --upstream, origin.kind relay); nil otherwise.
	Relay *RelayCounts `json:"relay,omitempty"`
}

// OriginTruth is the origin's ground truth for one run: what the fault server saw and did,
// counted on its side of the wire, and the faults it logged. The runner takes it from the
// fault server's counters (Window), merge adds it up, and reports set it beside the client's
// view.
type OriginTruth struct {
	OriginCounts
	// Events are the origin's fault events during the run, oldest first: the newest ones its
	// bounded log kept (EventsDropped counts the ones it no longer had).
	Events        []OriginEvent `json:"events,omitempty"`
	EventsDropped uint64        `json:"events_dropped,omitempty"`
	// Windows say which stretch of which origin process the counts above cover: the two
	// snapshots of its cumulative counters they are the difference of. Shards that watched
	// one origin side by side each hold a window of it; merge counts the union of the windows
	// of one origin once, and adds up different origins (replicas). None in results of older
	// gatecrash versions, whose truths merge adds up.
	Windows []OriginWindow `json:"windows,omitempty"`
}

// OriginWindow is a stretch of one origin process's life: its counters at From and at To.
type OriginWindow struct {
	// Instance is the origin's identity: a random id its fault server drew when it started.
	Instance string    `json:"instance"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	// Before and After are the origin's cumulative counts at From and To (no events, no
	// windows of their own).
	Before *OriginCounts `json:"before"`
	After  *OriginCounts `json:"after"`
}

// Window returns the truth of one origin between two snapshots of its cumulative counts:
// after minus before, with the window that says so.
func Window(instance string, from, to time.Time, before, after *OriginCounts) *OriginTruth {
	d := &OriginTruth{OriginCounts: *after.Sub(before)}
	if instance != "" {
		d.Windows = []OriginWindow{{Instance: instance, From: from, To: to, Before: before.clone(), After: after.clone()}}
	}
	return d
}

// clone returns a copy of c that shares nothing with it.
func (c *OriginCounts) clone() *OriginCounts {
	d := *c
	d.Faults = maps.Clone(c.Faults)
	if c.Relay != nil {
		r := *c.Relay
		d.Relay = &r
	}
	if c.RequestFaultsInjected != nil {
		n := *c.RequestFaultsInjected
		d.RequestFaultsInjected = &n
	}
	return &d
}

// MergeOrigins returns the ground truth of several results' origins: the origins' windows
// merged per origin process, so that what one origin did is counted once however many loads
// watched it at the same time — overlapping windows of one instance count from the earliest
// snapshot to the latest; windows apart (a load that died and was resumed later) count
// apart, the downtime not at all — and different origins added up. Truths without windows
// are added up as they are. Events are kept once each.
func MergeOrigins(truths []*OriginTruth) *OriginTruth {
	out := &OriginTruth{OriginCounts: OriginCounts{Faults: map[string]uint64{}}}
	byInstance := map[string][]OriginWindow{}
	dropped := map[string]uint64{} // per instance: the most any watcher saw dropped
	for _, t := range truths {
		if len(t.Windows) == 0 {
			out.Add(t)
			continue
		}
		for _, w := range t.Windows {
			byInstance[w.Instance] = append(byInstance[w.Instance], w)
		}
		out.Events = append(out.Events, t.Events...)
		if len(t.Windows) == 1 {
			dropped[t.Windows[0].Instance] = max(dropped[t.Windows[0].Instance], t.EventsDropped)
		} else {
			out.EventsDropped += t.EventsDropped
		}
	}
	for _, n := range dropped {
		out.EventsDropped += n
	}
	for _, id := range slices.Sorted(maps.Keys(byInstance)) {
		ws := byInstance[id]
		slices.SortFunc(ws, func(a, b OriginWindow) int { return a.From.Compare(b.From) })
		cur := ws[0]
		flush := func() {
			out.Add(&OriginTruth{OriginCounts: *cur.After.Sub(cur.Before)})
			out.Windows = append(out.Windows, cur)
		}
		for _, w := range ws[1:] {
			if w.From.After(cur.To) {
				flush()
				cur = w
				continue
			}
			if w.To.After(cur.To) {
				cur.To, cur.After = w.To, w.After
			}
		}
		flush()
	}
	slices.SortStableFunc(out.Events, func(a, b OriginEvent) int { return a.Time.Compare(b.Time) })
	out.Events = slices.CompactFunc(out.Events, sameEvent)
	return out
}

// sameEvent reports whether a and b are one fault event (seen by two loads of one origin).
func sameEvent(a, b OriginEvent) bool {
	ab := a.AfterBytes == nil && b.AfterBytes == nil || a.AfterBytes != nil && b.AfterBytes != nil && *a.AfterBytes == *b.AfterBytes
	return a.Time.Equal(b.Time) && a.Conn == b.Conn && a.Remote == b.Remote && a.Kind == b.Kind && a.Request == b.Request &&
		a.IdleUs == b.IdleUs && ab
}

// OriginEvent is one fault the origin injected (the fault server logs these, as
// faultserver.FaultEvent): when, on which connection, what, and where in the exchange. It lets
// a client-side error be traced to what the origin did.
type OriginEvent struct {
	Time time.Time `json:"time"`
	// Conn is the connection's number at the origin (1 for the first it accepted); Remote the
	// peer address it saw: the proxy's upstream side, or the load generator's local address
	// when the load talks to the origin directly.
	Conn   uint64 `json:"conn"`
	Remote string `json:"remote"`
	Kind   string `json:"kind"`
	// Request counts the responses the connection had completed before (0: its first
	// request); IdleUs how long it sat idle before the request (or, for an idle fault, before
	// the fault acted).
	Request int   `json:"request"`
	IdleUs  int64 `json:"idle_us"`
	// AfterBytes is where in the stream the fault acted, for kinds that act at a byte
	// position: request bytes read (close-on-reuse with after-bytes, fin-mid-request) or body
	// bytes sent (cut-body).
	AfterBytes *int64 `json:"after_bytes,omitempty"`
}

// OriginMatch pairs an error exemplar with the origin event that most likely caused it.
type OriginMatch struct {
	Event OriginEvent `json:"event"`
	// SameConnection is true when the event's peer address is the exemplar's local address:
	// the load talked to the origin directly and this is certainly the fault that hit it.
	// Otherwise the event is the nearest in time before the error (through a proxy the
	// connections cannot be matched).
	SameConnection bool `json:"same_connection"`
	// BeforeUs is how long before the client saw the error the origin acted.
	BeforeUs int64 `json:"before_us"`
}

// PairExemplars pairs every error exemplar with the origin event that most likely caused
// it: an event on the same connection (the exemplar's local address is the event's remote)
// at or before the error, else the nearest event at or before the error within the
// exemplar's latency plus a second. Exemplars with no such event are left unpaired.
func (r *Result) PairExemplars() {
	if r.Origin == nil || len(r.Origin.Events) == 0 {
		return
	}
	events := r.Origin.Events
	for c, list := range r.Exemplars {
		for i := range list {
			e := &list[i]
			e.Origin = nil
			var best *OriginEvent
			same := false
			window := time.Duration(e.LatencyUs)*time.Microsecond + time.Second
			for j := range events {
				ev := &events[j]
				d := e.Time.Sub(ev.Time)
				if d < 0 {
					continue // after the error: not its cause
				}
				isSame := e.Local != "" && ev.Remote == e.Local
				switch {
				case isSame && (!same || ev.Time.After(best.Time)):
					best, same = ev, true
				case !same && d <= window && (best == nil || ev.Time.After(best.Time)):
					best = ev
				}
			}
			if best != nil {
				e.Origin = &OriginMatch{Event: *best, SameConnection: same, BeforeUs: e.Time.Sub(best.Time).Microseconds()}
			}
		}
		r.Exemplars[c] = list
	}
}

// OriginCloses counts connection ends: by the origin (as FIN or RST) and by its peer.
type OriginCloses struct {
	ServerFIN uint64 `json:"server_fin"`
	ServerRST uint64 `json:"server_rst"`
	PeerFIN   uint64 `json:"peer_fin"`
	PeerRST   uint64 `json:"peer_rst"`
}

// FaultsTotal sums the faults injected.
func (o *OriginCounts) FaultsTotal() uint64 {
	var n uint64
	for _, v := range o.Faults {
		n += v
	}
	return n
}

// connectionFaults are the fault kinds of gatecrash versions before the fault server counted
// request faults itself (RequestFaultsInjected), that do not fail the request they act on:
// the classification of their results, which is all it is used for. Today's fault server
// derives it from each kind's phase.
var connectionFaults = map[string]bool{"idle-close": true, "tls-stall": true, "delay": true}

// RequestFaults counts the faults injected into requests: each is a request the client
// should have seen fail, unless the proxy retried it (connection faults — an idle close of a
// connection nobody reuses, a stalled handshake the proxy did not wait for — and delays,
// which fail only a tight timeout, are no measure of what a proxy absorbed). ok is false when
// only such faults were injected.
func (o *OriginCounts) RequestFaults() (n uint64, ok bool) {
	total := o.FaultsTotal()
	if o.RequestFaultsInjected != nil {
		n = *o.RequestFaultsInjected
		return n, n > 0 || total == n
	}
	var conn uint64
	for k, v := range o.Faults {
		if connectionFaults[k] {
			conn += v
		} else {
			n += v
		}
	}
	return n, n > 0 || conn == 0
}

// Absorbed returns how many injected request faults the client did not see as errors (the
// proxy retried them), given the client's error count; ok is false when no request faults
// were injected (idle closes alone say nothing about retries), or when the app behind a
// relay failed or raced its own idle close too (then some client errors are the app's, and
// the difference would undercount).
func (o *OriginCounts) Absorbed(clientErrors int64) (n int64, ok bool) {
	f, ok := o.RequestFaults()
	if !ok || o.appFailed() {
		return 0, false
	}
	return max(int64(f)-clientErrors, 0), true
}

// Add adds other's counts and events to o.
func (o *OriginTruth) Add(other *OriginTruth) {
	o.OriginCounts.Add(&other.OriginCounts)
	o.Events = append(o.Events, other.Events...)
	slices.SortStableFunc(o.Events, func(a, b OriginEvent) int { return a.Time.Compare(b.Time) })
	o.EventsDropped += other.EventsDropped
}

// Add adds other's counts to o.
func (o *OriginCounts) Add(other *OriginCounts) {
	empty := o.FaultsTotal() == 0 && o.RequestFaultsInjected == nil // nothing to keep of o's classification
	o.ConnectionsAccepted += other.ConnectionsAccepted
	o.TLSHandshakes += other.TLSHandshakes
	o.TLSHandshakeErrors += other.TLSHandshakeErrors
	o.RequestsStarted += other.RequestsStarted
	o.RequestsRead += other.RequestsRead
	o.ResponsesCompleted += other.ResponsesCompleted
	o.BadRequests += other.BadRequests
	o.Closes.ServerFIN += other.Closes.ServerFIN
	o.Closes.ServerRST += other.Closes.ServerRST
	o.Closes.PeerFIN += other.Closes.PeerFIN
	o.Closes.PeerRST += other.Closes.PeerRST
	if len(other.Faults) > 0 && o.Faults == nil {
		o.Faults = make(map[string]uint64, len(other.Faults))
	}
	for k, n := range other.Faults {
		o.Faults[k] += n
	}
	switch {
	case empty && other.RequestFaultsInjected != nil:
		n := *other.RequestFaultsInjected
		o.RequestFaultsInjected = &n
	case o.RequestFaultsInjected != nil && other.RequestFaultsInjected != nil:
		n := *o.RequestFaultsInjected + *other.RequestFaultsInjected
		o.RequestFaultsInjected = &n
	case other.FaultsTotal() > 0 || !empty:
		o.RequestFaultsInjected = nil // one side does not say: RequestFaults classifies by name
	}
	if other.Relay != nil {
		if o.Relay == nil {
			o.Relay = &RelayCounts{}
		}
		o.Relay.Add(other.Relay)
	}
}

// Sub returns the counts that accumulated from before to o: two snapshots of one origin's
// cumulative counters make what it did between them.
func (o *OriginCounts) Sub(before *OriginCounts) *OriginCounts {
	d := *o
	d.ConnectionsAccepted -= before.ConnectionsAccepted
	d.TLSHandshakes -= before.TLSHandshakes
	d.TLSHandshakeErrors -= before.TLSHandshakeErrors
	d.RequestsStarted -= before.RequestsStarted
	d.RequestsRead -= before.RequestsRead
	d.ResponsesCompleted -= before.ResponsesCompleted
	d.BadRequests -= before.BadRequests
	d.Closes.ServerFIN -= before.Closes.ServerFIN
	d.Closes.ServerRST -= before.Closes.ServerRST
	d.Closes.PeerFIN -= before.Closes.PeerFIN
	d.Closes.PeerRST -= before.Closes.PeerRST
	d.Faults = make(map[string]uint64, len(o.Faults))
	for k, n := range o.Faults {
		d.Faults[k] = n - before.Faults[k]
	}
	if o.Relay != nil && before.Relay != nil {
		d.Relay = o.Relay.Sub(before.Relay)
	}
	if o.RequestFaultsInjected != nil && before.RequestFaultsInjected != nil {
		n := *o.RequestFaultsInjected - *before.RequestFaultsInjected
		d.RequestFaultsInjected = &n
	} else {
		d.RequestFaultsInjected = nil
	}
	return &d
}

// OriginTruth returns the origin ground truth and whether the result has one.
func (r *Result) OriginTruth() (*OriginTruth, bool) { return r.Origin, r.Origin != nil }

// appFailed reports whether the app behind a relay caused client errors of its own: its
// errors, or its idle closes (each may have met a request).
func (o *OriginCounts) appFailed() bool {
	return o.Relay != nil && (o.Relay.AppErrors.Total() > 0 || o.Relay.AppClosedIdle > 0)
}
