package results

import (
	"strings"
	"testing"
	"time"
)

// TestPairExemplars: an error is paired with the origin event on its own connection even when
// another connection's event is nearer in time; without one, with the nearest event before it
// (within its latency and a second); never with an event after it.
func TestPairExemplars(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	n17 := int64(17)
	h := NewHistogram()
	for range 3 {
		h.RecordDuration(time.Millisecond)
	}
	r := &Result{Start: t0, End: at(10000), Requests: 3,
		Outcomes: map[Class]*Outcome{Truncated: {Count: 3, Latency: h}},
		Exemplars: map[Class][]Exemplar{Truncated: {
			{Time: at(1000), Local: "127.0.0.1:5000", LatencyUs: 1000}, // its own event at 990, another at 999
			{Time: at(5000), Local: "127.0.0.1:6000", LatencyUs: 1000}, // no own event: nearest before, 4990
			{Time: at(9000), Local: "127.0.0.1:7000", LatencyUs: 1000}, // only an event after it, and one too old
		}},
		Origin: &OriginTruth{Events: []OriginEvent{
			{Time: at(990), Conn: 3, Remote: "127.0.0.1:5000", Kind: "rst-headers", AfterBytes: &n17},
			{Time: at(999), Conn: 4, Remote: "127.0.0.1:5001", Kind: "cut-body"},
			{Time: at(4990), Conn: 5, Remote: "10.0.0.9:1", Kind: "close-on-reuse", Request: 2},
			{Time: at(7000), Conn: 6, Remote: "10.0.0.9:2", Kind: "cut-body"},
			{Time: at(9001), Conn: 7, Remote: "10.0.0.9:3", Kind: "cut-body"},
		}},
	}
	r.PairExemplars()
	ex := r.Exemplars[Truncated]
	if m := ex[0].Origin; m == nil || !m.SameConnection || m.Event.Conn != 3 || m.BeforeUs != 10000 {
		t.Errorf("exemplar 0 paired with %+v, want conn 3 on the same connection, 10ms before", m)
	}
	if m := ex[1].Origin; m == nil || m.SameConnection || m.Event.Conn != 5 {
		t.Errorf("exemplar 1 paired with %+v, want conn 5 by time", m)
	}
	if m := ex[2].Origin; m != nil {
		t.Errorf("exemplar 2 paired with %+v; the only events are 2s before (outside its window) and after it", m)
	}
	var b strings.Builder
	if err := WriteSummary(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"origin rst-headers after 17 bytes on its conn #3 (peer 127.0.0.1:5000, request 1), 10.00ms earlier (same connection)",
		"origin close-on-reuse on its conn #5 (peer 10.0.0.9:1, request 3), 10.00ms earlier (nearest before it)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

// Absorbed is injected request faults less client errors — unless the app behind a relay
// failed too (some client errors are then the app's): no number rather than a wrong one.
func TestAbsorbedWithARelay(t *testing.T) {
	t.Parallel()
	o := &OriginTruth{OriginCounts: OriginCounts{Faults: map[string]uint64{"rst-headers": 10, "idle-close": 50}}}
	if n, ok := o.Absorbed(7); !ok || n != 3 {
		t.Errorf("10 injected, 7 seen: absorbed %d, %v; want 3", n, ok)
	}
	o.Relay = &RelayCounts{}
	if n, ok := o.Absorbed(7); !ok || n != 3 {
		t.Errorf("a relay whose app did nothing wrong: absorbed %d, %v; want 3", n, ok)
	}
	o.Relay.AppErrors.Connect = 4
	if _, ok := o.Absorbed(7); ok {
		t.Error("the app refused 4 connections: absorbed must not be given")
	}
	o.Relay.AppErrors.Connect, o.Relay.AppClosedIdle = 0, 1
	if _, ok := o.Absorbed(7); ok {
		t.Error("the app closed an idle connection itself (it may have met a request): absorbed must not be given")
	}
	r := &Result{Origin: o, Requests: 100, Outcomes: map[Class]*Outcome{}}
	var b strings.Builder
	if err := WriteComparison(&b, []*Result{r}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "- (the app failed too)") {
		t.Errorf("comparison does not say why absorbed is missing:\n%s", b.String())
	}
}

// RequestFaults takes the fault server's own count (by phase) when the truth has it, and
// classifies by kind name for results of older versions; merging the two kinds of truth
// falls back to the names rather than mixing.
func TestRequestFaultsByPhase(t *testing.T) {
	t.Parallel()
	u := func(n uint64) *uint64 { return &n }
	// A kind the old name list does not know (say a new idle fault) counted by the server as
	// not failing requests: absorbed must not count it.
	o := &OriginTruth{OriginCounts: OriginCounts{Faults: map[string]uint64{"rst-headers": 2, "new-idle-kind": 30}, RequestFaultsInjected: u(2)}}
	if n, ok := o.RequestFaults(); n != 2 || !ok {
		t.Errorf("with the server's count: %d, %v; want 2", n, ok)
	}
	if n, ok := o.Absorbed(1); n != 1 || !ok {
		t.Errorf("absorbed %d, %v; want 1", n, ok)
	}
	old := &OriginTruth{OriginCounts: OriginCounts{Faults: map[string]uint64{"rst-headers": 3, "idle-close": 5}}}
	if n, ok := old.RequestFaults(); n != 3 || !ok {
		t.Errorf("an old truth, by name: %d, %v; want 3", n, ok)
	}
	onlyIdle := &OriginTruth{OriginCounts: OriginCounts{Faults: map[string]uint64{"idle-close": 5}, RequestFaultsInjected: u(0)}}
	if _, ok := onlyIdle.RequestFaults(); ok {
		t.Error("only idle closes: no measure of what a proxy absorbed")
	}
	// Adding: two new truths add their counts; a new and an old one fall back to names.
	sum := &OriginTruth{}
	sum.Add(o)
	sum.Add(&OriginTruth{OriginCounts: OriginCounts{Faults: map[string]uint64{"status": 4}, RequestFaultsInjected: u(4)}})
	if sum.RequestFaultsInjected == nil || *sum.RequestFaultsInjected != 6 {
		t.Errorf("two new truths: %v; want 6", sum.RequestFaultsInjected)
	}
	sum.Add(old)
	if sum.RequestFaultsInjected != nil {
		t.Errorf("with an old truth in: %d; want none (classified by name)", *sum.RequestFaultsInjected)
	}
	// Sub keeps the count when both snapshots have it.
	after := &OriginCounts{Faults: map[string]uint64{"rst-headers": 9}, RequestFaultsInjected: u(9)}
	before := &OriginCounts{Faults: map[string]uint64{"rst-headers": 4}, RequestFaultsInjected: u(4)}
	if d := after.Sub(before); d.RequestFaultsInjected == nil || *d.RequestFaultsInjected != 5 {
		t.Errorf("after − before: %v; want 5", d.RequestFaultsInjected)
	}
}
