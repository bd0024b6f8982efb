package faultserver

import (
	"context"
	"fmt"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// Origin is a fault server as a run reads it: its counters and its fault events, from a
// server in this process (Local) or one elsewhere through its admin API
// (adminclient.Client). A Watch turns either into a run's ground truth.
type Origin interface {
	Snapshot(ctx context.Context) (Stats, error)
	Events(ctx context.Context, since time.Time) (EventsReply, error)
}

// Local returns s as an Origin.
func Local(s *Server) Origin { return local{s} }

type local struct{ s *Server }

func (l local) Snapshot(context.Context) (Stats, error) { return l.s.Stats(), nil }

func (l local) Events(_ context.Context, since time.Time) (EventsReply, error) {
	ev, dropped := l.s.FaultEvents(since)
	return EventsReply{Events: ev, Dropped: dropped}, nil
}

// Watch is what a run knows of its origin from its start: the counters then, to subtract
// from the counters at any later time, and the fault events since.
type Watch struct {
	o             Origin
	start         time.Time
	before        Stats
	droppedBefore uint64
	where         string // how errors name the origin
}

// StartWatch takes the origin's counters now. where names the origin in errors (an admin
// URL, "the in-process origin").
func StartWatch(ctx context.Context, o Origin, where string) (*Watch, error) {
	w := &Watch{o: o, start: time.Now(), where: where}
	var err error
	if w.before, err = o.Snapshot(ctx); err != nil {
		return nil, err
	}
	ev, err := o.Events(ctx, w.start)
	if err != nil {
		return nil, err
	}
	w.droppedBefore = ev.Dropped
	return w, nil
}

// Truth returns what the origin did since the watch started: its counts, the window they
// cover, and its fault events. An origin that restarted meanwhile (another instance) has
// counters that started again from zero, and is an error.
func (w *Watch) Truth(ctx context.Context) (*results.OriginTruth, error) {
	now, err := w.o.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if now.Instance != w.before.Instance {
		return nil, fmt.Errorf("the origin at %s restarted during the run (instance %s, now %s): its counters start again from zero",
			w.where, w.before.Instance, now.Instance)
	}
	d := now.Since(w.before)
	ev, err := w.o.Events(ctx, w.start)
	if err != nil {
		return nil, err
	}
	d.Events, d.EventsDropped = ev.Events, ev.Dropped-min(ev.Dropped, w.droppedBefore)
	return d, nil
}
