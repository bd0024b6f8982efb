package faultserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// stats is the ground truth: what the server saw and did, counted with atomics so that every
// connection goroutine can record without contention.
type stats struct {
	connsAccepted    atomic.Uint64
	connsOpen        atomic.Int64
	tlsHandshakes    atomic.Uint64
	tlsHandshakeErrs atomic.Uint64
	requestsStarted  atomic.Uint64
	requestsRead     atomic.Uint64
	responses        atomic.Uint64
	badRequests      atomic.Uint64
	serverFIN        atomic.Uint64
	serverRST        atomic.Uint64
	peerFIN          atomic.Uint64
	peerRST          atomic.Uint64
	maxConnsReached  atomic.Uint64
	faults           []atomic.Uint64 // by kindInfo.index; every registered kind has one
	requestFaults    atomic.Uint64   // injections of kinds that fail the request they act on
	relay            relayStats
	instance         string // the server's identity in every snapshot
}

func newStats() *stats {
	var id [8]byte
	rand.Read(id[:]) // never fails (crypto/rand)
	return &stats{faults: make([]atomic.Uint64, len(kindNames)), instance: hex.EncodeToString(id[:])}
}

// fault counts one injection of kind k. Kinds are registered before any server exists (in
// init), so k.index is always in range.
func (s *stats) fault(k *kindInfo) {
	s.faults[k.index].Add(1)
	if k.failsRequest {
		s.requestFaults.Add(1)
	}
}

// Stats is a snapshot of the ground-truth counters. All counts are totals since start.
type Stats struct {
	// Instance identifies the server (a random id drawn when it was made), and Time is when
	// the snapshot was taken: two snapshots of one instance bound what it did between them,
	// so that loads that watch one origin side by side (shards) count it once, not once each.
	Instance string    `json:"instance"`
	Time     time.Time `json:"time"`
	// ConnectionsAccepted counts TCP connections accepted on every listener.
	ConnectionsAccepted uint64 `json:"connections_accepted"`
	// ConnectionsOpen is the number open at the time of the snapshot.
	ConnectionsOpen int64 `json:"connections_open"`
	// TLSHandshakes counts completed handshakes; TLSHandshakeErrors failed ones.
	TLSHandshakes      uint64 `json:"tls_handshakes"`
	TLSHandshakeErrors uint64 `json:"tls_handshake_errors"`
	// RequestsStarted counts requests of which at least one byte arrived; RequestsRead those
	// whose whole head was read. A client that retries shows up here twice.
	RequestsStarted uint64 `json:"requests_started"`
	RequestsRead    uint64 `json:"requests_read"`
	// ResponsesCompleted counts responses written in full (fault or not).
	ResponsesCompleted uint64 `json:"responses_completed"`
	// BadRequests counts requests answered 400/408/417/431/501/505 by the parser.
	BadRequests uint64 `json:"bad_requests"`
	// Closes counts connection ends by who ended them and how.
	Closes Closes `json:"closes"`
	// Faults counts faults that acted, by kind (every kind is present).
	Faults map[string]uint64 `json:"faults"`
	// RequestFaults counts the faults of kinds that fail the request they act on (request and
	// response faults but delay): each is a request the client should have seen fail,
	// unless the proxy retried it.
	RequestFaults uint64 `json:"request_faults"`
	// MaxConnectionsReached counts the times the server stopped accepting because its
	// connection bound was reached (WithMaxConnections).
	MaxConnectionsReached uint64 `json:"max_connections_reached,omitempty"`
	// Relay is what a relaying server (--upstream) did with the app behind it: connections
	// to it, requests forwarded, and the app's own errors, counted apart from Faults. Nil
	// when the server answers itself.
	Relay *results.RelayCounts `json:"relay,omitempty"`
}

// Closes counts connection ends. Server closes are counted by what the server's kernel sent:
// a normal close with unread request bytes goes out as an RST and is counted as one.
type Closes struct {
	ServerFIN uint64 `json:"server_fin"`
	ServerRST uint64 `json:"server_rst"`
	PeerFIN   uint64 `json:"peer_fin"`
	PeerRST   uint64 `json:"peer_rst"`
}

// Sub returns the counts that accumulated between before and s (ConnectionsOpen is s's).
func (s Stats) Sub(before Stats) Stats {
	d := s
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
	d.Faults = make(map[string]uint64, len(s.Faults))
	for k, v := range s.Faults {
		d.Faults[k] = v - before.Faults[k]
	}
	d.RequestFaults -= before.RequestFaults
	if s.Relay != nil && before.Relay != nil {
		d.Relay = s.Relay.Sub(before.Relay)
	}
	return d
}

// FaultsTotal sums Faults over all kinds.
func (s Stats) FaultsTotal() uint64 {
	var n uint64
	for _, v := range s.Faults {
		n += v
	}
	return n
}

func (s *stats) snapshot() Stats {
	out := Stats{
		Instance:            s.instance,
		Time:                time.Now(),
		ConnectionsAccepted: s.connsAccepted.Load(),
		ConnectionsOpen:     s.connsOpen.Load(),
		TLSHandshakes:       s.tlsHandshakes.Load(),
		TLSHandshakeErrors:  s.tlsHandshakeErrs.Load(),
		RequestsStarted:     s.requestsStarted.Load(),
		RequestsRead:        s.requestsRead.Load(),
		ResponsesCompleted:  s.responses.Load(),
		BadRequests:         s.badRequests.Load(),
		Closes: Closes{
			ServerFIN: s.serverFIN.Load(), ServerRST: s.serverRST.Load(),
			PeerFIN: s.peerFIN.Load(), PeerRST: s.peerRST.Load(),
		},
		Faults:                make(map[string]uint64, len(s.faults)),
		RequestFaults:         s.requestFaults.Load(),
		MaxConnectionsReached: s.maxConnsReached.Load(),
	}
	for i := range s.faults {
		out.Faults[kindNames[i]] = s.faults[i].Load()
	}
	return out
}

// Truth returns the counts of s as the result's typed ground truth (counts only: the caller
// adds the window and the events).
func (s Stats) Truth() *results.OriginTruth {
	rf := s.RequestFaults
	return &results.OriginTruth{
		ConnectionsAccepted: s.ConnectionsAccepted, TLSHandshakes: s.TLSHandshakes, TLSHandshakeErrors: s.TLSHandshakeErrors,
		RequestsStarted: s.RequestsStarted, RequestsRead: s.RequestsRead, ResponsesCompleted: s.ResponsesCompleted,
		BadRequests: s.BadRequests,
		Closes: results.OriginCloses{ServerFIN: s.Closes.ServerFIN, ServerRST: s.Closes.ServerRST,
			PeerFIN: s.Closes.PeerFIN, PeerRST: s.Closes.PeerRST},
		Faults: s.Faults, Relay: s.Relay, RequestFaultsInjected: &rf,
	}
}

// WriteText writes s as an aligned, human-readable summary.
func (s Stats) WriteText(w io.Writer) error {
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	p("connections accepted   %d (open %d)\n", s.ConnectionsAccepted, s.ConnectionsOpen)
	if s.MaxConnectionsReached > 0 {
		p("max connections hit    %d times (new connections waited in the listen backlog)\n", s.MaxConnectionsReached)
	}
	if s.TLSHandshakes+s.TLSHandshakeErrors > 0 {
		p("tls handshakes         %d (failed %d)\n", s.TLSHandshakes, s.TLSHandshakeErrors)
	}
	p("requests started       %d\n", s.RequestsStarted)
	p("requests read          %d\n", s.RequestsRead)
	p("responses completed    %d\n", s.ResponsesCompleted)
	p("bad requests           %d\n", s.BadRequests)
	p("closes by server       fin %d, rst %d\n", s.Closes.ServerFIN, s.Closes.ServerRST)
	p("closes by peer         fin %d, rst %d\n", s.Closes.PeerFIN, s.Closes.PeerRST)
	kinds := make([]string, 0, len(s.Faults))
	for k, v := range s.Faults {
		if v > 0 {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	p("faults injected        %d\n", s.FaultsTotal())
	for _, k := range kinds {
		p("  %-20s %d\n", k, s.Faults[k])
	}
	if r := s.Relay; r != nil {
		p("app                    %s\n", r.Upstream)
		p("  connections          %d opened (open %d); app closed %d idle, %d after a response; relay closed %d\n",
			r.ConnectionsOpened, r.ConnectionsOpen, r.AppClosedIdle, r.AppClosedAfterResponse, r.RelayClosed)
		p("  requests forwarded   %d (%d on a reused connection); responses relayed %d\n",
			r.RequestsForwarded, r.RequestsOnReused, r.ResponsesRelayed)
		e := r.AppErrors
		p("  app errors           %d (connect %d, reset %d, closed early %d, timeout %d, malformed %d) - not injected faults\n",
			e.Total(), e.Connect, e.Reset, e.Closed, e.Timeout, e.Malformed)
	}
	return err
}
