package faultserver

import (
	"github.com/gatecrash/gatecrash/results"
	"net"
	"sync"
	"time"
)

// EventLogSize is how many fault events a server keeps: the newest ones, in a ring. At one
// fault in a million requests that is hours of a soak at 100k req/s; at higher fault rates the
// counters stay exact and the log keeps the latest (EventsDropped says how many fell out).
const EventLogSize = 10000

// FaultEvent is one fault that acted: when, on which connection, what, and where in the
// exchange (the type a result's origin events have: see results.OriginEvent). It lets a
// client-side error be traced to what the origin did.
type FaultEvent = results.OriginEvent

// atBytes is implemented by kinds that act at a byte position.
type atBytes interface {
	afterBytes() (int64, bool)
}

// eventLog keeps the newest EventLogSize events. Faults are rare, so one mutex is enough.
type eventLog struct {
	mu      sync.Mutex
	ring    []FaultEvent
	next    int    // where the next event goes
	total   uint64 // events ever recorded
	dropped uint64 // events overwritten
}

func (l *eventLog) add(e FaultEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ring == nil {
		l.ring = make([]FaultEvent, 0, 64)
	}
	if len(l.ring) < EventLogSize {
		l.ring = append(l.ring, e)
	} else {
		l.ring[l.next] = e
		l.dropped++
	}
	l.next = (l.next + 1) % EventLogSize
	l.total++
}

// since returns the kept events at or after t, oldest first, and how many events were
// dropped from the log in all.
func (l *eventLog) since(t time.Time) ([]FaultEvent, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []FaultEvent
	n := len(l.ring)
	start := 0
	if n == EventLogSize {
		start = l.next
	}
	for i := range n {
		e := l.ring[(start+i)%n]
		if !e.Time.Before(t) {
			out = append(out, e)
		}
	}
	return out, l.dropped
}

// FaultEvents returns the fault events at or after since that the server still keeps, oldest
// first, and how many older events its bounded log has dropped since it started.
func (s *Server) FaultEvents(since time.Time) ([]FaultEvent, uint64) { return s.events.since(since) }

// recordEvent logs the fault f acting on c now.
func (c *conn) recordEvent(f Fault) {
	e := FaultEvent{Time: time.Now(), Conn: c.id, Kind: kindOf(f).name, Request: c.served, IdleUs: c.idleFor.Microseconds()}
	if c.remote == "" && c.nc != nil {
		// once per connection: a fault that keeps the connection (status, delay) allocates
		// nothing per injection
		if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
			c.remote = a.String()
		}
	}
	e.Remote = c.remote
	if ab, ok := f.(atBytes); ok {
		if n, ok := ab.afterBytes(); ok {
			e.AfterBytes = &n
		}
	}
	c.srv.events.add(e)
}
