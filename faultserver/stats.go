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
	steadyServed     atomic.Uint64 // requests answered on the steady path (steady.go); not in snapshots
	steadyMisses     atomic.Uint64 // reads on the steady path that found nothing; not in snapshots
	ringRecvs        atomic.Uint64 // reads the io_uring completed (ring.go); not in snapshots
	ringAheadMax     atomic.Uint64 // the most a connection had written and the ring not sent; not in snapshots
	awaited          atomic.Uint64 // relay: answers waited for by sendAwait, added when the app connection is dropped; not in snapshots
	awaitMisses      atomic.Uint64 // relay: sendAwait's reads that found nothing; not in snapshots
	awaitChecks      atomic.Uint64 // relay: sendAwait's answer checks (no answer by answerCheck); not in snapshots
	instance         string        // the server's identity in every snapshot
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

// Stats is a snapshot of the ground-truth counters: the counts every origin reports
// (results.OriginCounts, totals since start, the JSON of GET /stats), and what only a live
// server has.
type Stats struct {
	// Instance identifies the server (a random id drawn when it was made), and Time is when
	// the snapshot was taken: two snapshots of one instance bound what it did between them,
	// so that loads that watch one origin side by side (shards) count it once, not once each.
	Instance string    `json:"instance"`
	Time     time.Time `json:"time"`
	// ConnectionsOpen is the number open at the time of the snapshot.
	ConnectionsOpen int64 `json:"connections_open"`
	// MaxConnectionsReached counts the times the server stopped accepting because its
	// connection bound was reached (WithMaxConnections).
	MaxConnectionsReached uint64 `json:"max_connections_reached,omitempty"`
	results.OriginCounts
}

// Since returns what the server did between before and s: a run's ground truth, with the
// window that says which stretch of which server it covers.
func (s Stats) Since(before Stats) *results.OriginTruth {
	return results.Window(s.Instance, before.Time, s.Time, &before.OriginCounts, &s.OriginCounts)
}

func (s *stats) snapshot() Stats {
	rf := s.requestFaults.Load()
	out := Stats{
		Instance:              s.instance,
		Time:                  time.Now(),
		ConnectionsOpen:       s.connsOpen.Load(),
		MaxConnectionsReached: s.maxConnsReached.Load(),
		OriginCounts: results.OriginCounts{
			ConnectionsAccepted: s.connsAccepted.Load(),
			TLSHandshakes:       s.tlsHandshakes.Load(),
			TLSHandshakeErrors:  s.tlsHandshakeErrs.Load(),
			RequestsStarted:     s.requestsStarted.Load(),
			RequestsRead:        s.requestsRead.Load(),
			ResponsesCompleted:  s.responses.Load(),
			BadRequests:         s.badRequests.Load(),
			Closes: results.OriginCloses{
				ServerFIN: s.serverFIN.Load(), ServerRST: s.serverRST.Load(),
				PeerFIN: s.peerFIN.Load(), PeerRST: s.peerRST.Load(),
			},
			Faults:                make(map[string]uint64, len(s.faults)),
			RequestFaultsInjected: &rf,
		},
	}
	for i := range s.faults {
		out.Faults[kindNames[i]] = s.faults[i].Load()
	}
	return out
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
