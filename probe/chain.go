package probe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/proxy"
)

// Hop is one hop of a chain, client side first. Keep is how long it keeps idle connections to
// the next hop (its upstream pool); Close is how long it keeps an idle connection from the hop
// before it (its own idle timeout as a server). Zero with the Set flag unset means unknown;
// Never means it does not close (or does not keep) within anything measured.
type Hop struct {
	Name              string        `json:"name"`
	Keep, Close       time.Duration `json:"-"`
	KeepSet, CloseSet bool          `json:"-"`
	// KeepNever: keeps idle connections without limit. CloseNever: never closes an idle one.
	KeepNever, CloseNever bool `json:"-"`
	// NoReuse: opens a new connection per request (nothing pooled, nothing to race).
	NoReuse bool `json:"-"`
	// KeepFrom and CloseFrom say where a measured window comes from, for the verdict: the
	// longest keep and the earliest close of several, with their medians.
	KeepFrom, CloseFrom string `json:"-"`
}

// ParseHop reads NAME=VALUE: VALUE is a duration ("60s"), "never", keep=D,close=D for a hop in
// the middle, or @FILE, a probe's JSON report (origin: its idle timeout; proxy: its idle
// window). A bare duration is the hop's window towards the next hop, or, for the last hop, its
// own idle timeout (last says which this is).
func ParseHop(s string, last bool) (Hop, error) {
	name, val, ok := strings.Cut(s, "=")
	name, val = strings.TrimSpace(name), strings.TrimSpace(val)
	if !ok || name == "" || val == "" {
		return Hop{}, fmt.Errorf("--hop %q: give NAME=DURATION (e.g. nginx=60s), NAME=keep=D,close=D, or NAME=@probe.json", s)
	}
	h := Hop{Name: name}
	if file, ok := strings.CutPrefix(val, "@"); ok {
		return hopFromFile(h, file)
	}
	if !strings.Contains(val, "=") {
		if last {
			return h, setWindow(&h.Close, &h.CloseSet, &h.CloseNever, val, s)
		}
		return h, setWindow(&h.Keep, &h.KeepSet, &h.KeepNever, val, s)
	}
	for _, kv := range strings.Split(val, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		var err error
		switch k {
		case "keep":
			err = setWindow(&h.Keep, &h.KeepSet, &h.KeepNever, v, s)
		case "close":
			err = setWindow(&h.Close, &h.CloseSet, &h.CloseNever, v, s)
		default:
			err = fmt.Errorf("--hop %q: %q is not allowed; allowed: keep (its idle window towards the next hop), close (its own idle timeout)", s, k)
		}
		if err != nil {
			return h, err
		}
	}
	return h, nil
}

func setWindow(d *time.Duration, set, never *bool, v, flag string) error {
	*set = true
	if v == "never" {
		*never = true
		return nil
	}
	dur, err := yamlconf.ParseDuration(v)
	if err != nil || dur < 0 {
		return fmt.Errorf("--hop %q: %q is not a duration (60s, 1500ms) or never", flag, v)
	}
	*d = dur
	return nil
}

// MaxReportSize bounds a probe report read with --hop NAME=@FILE (a real one is a few
// kilobytes).
const MaxReportSize = 16 << 20

// hopFromFile reads a probe report written with --json.
func hopFromFile(h Hop, file string) (Hop, error) {
	b, err := files.Read(file, fmt.Sprintf("--hop %s=@%s", h.Name, file), MaxReportSize, nil)
	if err != nil {
		return h, err
	}
	var head struct{ Role string }
	if err := json.Unmarshal(b, &head); err != nil {
		return h, fmt.Errorf("--hop %s=@%s: not a probe report (gatecrash probe ... --json): %v", h.Name, file, err)
	}
	switch head.Role {
	case "origin":
		var r OriginReport
		if err := json.Unmarshal(b, &r); err != nil {
			return h, fmt.Errorf("--hop %s=@%s: %w", h.Name, file, err)
		}
		h.CloseSet = true
		switch {
		case r.ClosesAfterEachResponse:
			h.Close = 0
		case r.IdleTimeout == nil && len(r.Conns) == 0:
			return h, fmt.Errorf("--hop %s=@%s: the report measured no connection (no idle_timeout, no connections): nothing to judge",
				h.Name, file)
		case r.IdleTimeout == nil:
			h.CloseNever = true
		default:
			if err := r.IdleTimeout.check("idle_timeout"); err != nil {
				return h, fmt.Errorf("--hop %s=@%s: %w", h.Name, file, err)
			}
			h.Close = r.IdleTimeout.Min
			h.CloseFrom = fmt.Sprintf("the earliest of %d closes measured; median %s", r.IdleTimeout.N, secs(r.IdleTimeout.Median))
		}
	case "proxy":
		var r ProxyReport
		if err := json.Unmarshal(b, &r); err != nil {
			return h, fmt.Errorf("--hop %s=@%s: %w", h.Name, file, err)
		}
		h.KeepSet = true
		switch {
		case r.Pooled < 0 || r.Opened < 0 || r.Concurrent < 0:
			return h, fmt.Errorf("--hop %s=@%s: negative connection counts: not a report gatecrash wrote", h.Name, file)
		case r.Pooled == 0 && r.Opened == 0:
			return h, fmt.Errorf("--hop %s=@%s: the report saw the proxy open no upstream connection: nothing to judge", h.Name, file)
		case r.Pooled == 0:
			h.NoReuse = true
		case r.Never && r.ReusesStale:
			h.KeepNever = true
		case r.Never:
			return h, fmt.Errorf("--hop %s=@%s: the probe saw it keep connections open but not reuse them after %v; give its age "+
				"limit (ttl) as a duration instead", h.Name, file, r.MaxWait)
		case r.IdleWindow == nil:
			return h, fmt.Errorf("--hop %s=@%s: the proxy pooled %d connections, but the report has neither their idle_window nor "+
				"never_closed: nothing to judge", h.Name, file, r.Pooled)
		default:
			if err := r.IdleWindow.check("idle_window"); err != nil {
				return h, fmt.Errorf("--hop %s=@%s: %w", h.Name, file, err)
			}
			h.Keep = r.IdleWindow.Max
			h.KeepFrom = fmt.Sprintf("the longest of %d measured; median %s", r.IdleWindow.N, secs(r.IdleWindow.Median))
		}
	default:
		return h, fmt.Errorf("--hop %s=@%s: role %q; want a report of gatecrash probe origin or probe proxy --json", h.Name, file, head.Role)
	}
	return h, nil
}

// check refuses a spread that no probe measures: no samples, a negative duration, min above
// max.
func (s *Spread) check(field string) error {
	if s.N <= 0 || s.Min < 0 || s.Max < s.Min || s.Median < s.Min || s.Median > s.Max {
		return fmt.Errorf("%s: %d samples, min %v, median %v, max %v: not a measurement gatecrash wrote (want at least one sample, 0 <= min <= median <= max)",
			field, s.N, s.Min, s.Median, s.Max)
	}
	return nil
}

// ErrUnknown marks a chain with a pair that cannot be judged from what was given.
var ErrUnknown = errors.New("a pair of hops cannot be judged")

// PairVerdict is the verdict on one adjacent pair.
type PairVerdict struct {
	From, To string
	Race     bool
	Unknown  bool
	Text     string
}

// Chain judges each adjacent pair of hops: the one that reuses connections must drop them
// before the next one closes them.
func Chain(hops []Hop) ([]PairVerdict, error) {
	if len(hops) < 2 {
		return nil, errors.New("a chain needs at least two hops (--hop client-side first, the origin last)")
	}
	var out []PairVerdict
	for i := 0; i+1 < len(hops); i++ {
		a, b := hops[i], hops[i+1]
		v := PairVerdict{From: a.Name, To: b.Name}
		keeps := fmt.Sprintf("%s keeps idle upstream connections %s", a.Name, durOrNever(a.Keep, a.KeepNever))
		if a.KeepFrom != "" {
			keeps += " (" + a.KeepFrom + ")"
		}
		closes := fmt.Sprintf("%s closes at %s", b.Name, durOrNever(b.Close, b.CloseNever))
		if b.CloseFrom != "" {
			closes += " (" + b.CloseFrom + ")"
		}
		switch {
		case a.NoReuse:
			v.Text = fmt.Sprintf("%s opens a new connection per request: no idle race with %s", a.Name, b.Name)
		case !a.KeepSet || !b.CloseSet:
			v.Unknown = true
			v.Text = fmt.Sprintf("%s -> %s: unknown (give %s's keep window and %s's close timeout)", a.Name, b.Name, a.Name, b.Name)
		case b.CloseNever:
			v.Text = fmt.Sprintf("%s; %s never closes an idle connection: safe", keeps, b.Name)
		case b.Close == 0:
			v.Text = fmt.Sprintf("%s closes after every response: no idle connection to race — safe", b.Name)
		case a.KeepNever || a.Keep >= b.Close:
			v.Race = true
			v.Text = fmt.Sprintf("%s >= %s: RACE — %s", keeps, closes, fixFor(a.Name, b.Name, b.Close))
		default:
			v.Text = fmt.Sprintf("%s < %s: safe (margin %s)", keeps, closes, secs(b.Close-a.Keep))
			if b.Close-a.Keep < b.Close/10 {
				v.Text += " — a thin margin: timers and a slow network eat into it"
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func durOrNever(d time.Duration, never bool) string {
	if never {
		return "without limit"
	}
	return secs(d)
}

// otherReuseKnobs and otherCloseKnobs name the idle settings of servers gatecrash does not
// start (the ones it starts have theirs in their records: proxy.Knob).
var otherReuseKnobs = map[string]string{
	"traefik": "serversTransport `idleConnTimeout`",
	"envoy":   "the cluster's `common_http_protocol_options.idle_timeout`",
}

var otherCloseKnobs = map[string]string{
	"tomcat": "the connector's keepAliveTimeout",
}

// knobAliases are other names of a kind.
var knobAliases = map[string]string{"go": "embedded", "ats": "trafficserver"}

// knob names hop name's setting behind variable v (idle_timeout: its idle window towards its
// upstream; client_idle_timeout: its own idle timeout as a server), by its own name or an
// alias.
func knob(name, v string) (string, bool) {
	name = kindName(name)
	if k, ok := proxy.Knob(proxy.Kind(name), v); ok {
		return k, true
	}
	if v == "client_idle_timeout" {
		// An app server's own idle timeout as a server is its idle_timeout.
		if k, ok := proxy.AppKnob(proxy.AppKind(name), "idle_timeout"); ok {
			return k, true
		}
	}
	if v == "idle_timeout" {
		k, ok := otherReuseKnobs[name]
		return k, ok
	}
	k, ok := otherCloseKnobs[name]
	return k, ok
}

// kindName is a hop's name as a kind: lower case, aliases resolved.
func kindName(name string) string {
	name = strings.ToLower(name)
	if a, ok := knobAliases[name]; ok {
		return a
	}
	return name
}

// fixFor says what to change for a racing pair.
func fixFor(a, b string, close time.Duration) string {
	fix := fmt.Sprintf("lower %s's idle timeout towards %s below %s, e.g. %s", a, b, secs(close), shortDur(SafeBelow(close)))
	if k, ok := knob(a, "idle_timeout"); ok {
		fix = fmt.Sprintf("lower %s %s below %s, e.g. %s", a, k, secs(close), shortDur(SafeBelow(close)))
	}
	if why, ok := proxy.Weak(proxy.Kind(kindName(a)), "idle_timeout"); ok {
		fix = why
	}
	if k, ok := knob(b, "client_idle_timeout"); ok {
		fix += fmt.Sprintf(" (or raise %s's %s above %s's window)", b, k, a)
	}
	return fix
}

// shortDur prints a round duration the way configs take it ("4s", "800ms").
func shortDur(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// WriteChain prints the verdicts, one per pair, and reports whether any pair races.
func WriteChain(w io.Writer, vs []PairVerdict) (race bool) {
	for _, v := range vs {
		fmt.Fprintln(w, v.Text)
		race = race || v.Race
	}
	return race
}
