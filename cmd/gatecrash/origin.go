package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// originAdmin reads a fault server's ground truth through its admin API (gatecrash serve
// --admin), so that a load run against a proxy in front of it carries the origin's counters
// and fault events in its result.
type originAdmin struct {
	base          string
	client        *http.Client
	start         time.Time
	before        originStats
	droppedBefore uint64
}

// originStats is the admin API's GET /stats: the counters (whose names results.OriginTruth
// shares) and which origin process took them when.
type originStats struct {
	results.OriginTruth
	Instance string    `json:"instance"`
	Time     time.Time `json:"time"`
}

// startOriginAdmin takes the counters at the start of a run.
func startOriginAdmin(base string) (*originAdmin, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--origin-admin: %q is not an http(s) URL; give the fault server's admin address, e.g. http://127.0.0.1:9091", base)
	}
	a := &originAdmin{base: strings.TrimRight(base, "/"), client: &http.Client{Timeout: 5 * time.Second}}
	a.start = time.Now()
	if a.before, err = a.stats(); err != nil {
		return nil, err
	}
	if _, a.droppedBefore, err = a.events(a.start); err != nil {
		return nil, err
	}
	return a, nil
}

// truth returns the origin's counts since the start and its fault events since then.
func (a *originAdmin) truth() (*results.OriginTruth, error) {
	now, err := a.stats()
	if err != nil {
		return nil, err
	}
	d := results.Window(now.Instance, a.before.Time, now.Time, &a.before.OriginTruth, &now.OriginTruth)
	if now.Instance != a.before.Instance {
		return nil, fmt.Errorf("--origin-admin: the origin at %s restarted during the run (instance %s, now %s): its counters start again from zero",
			a.base, a.before.Instance, now.Instance)
	}
	events, dropped, err := a.events(a.start)
	if err != nil {
		return nil, err
	}
	d.Events, d.EventsDropped = events, dropped-a.droppedBefore
	return d, nil
}

func (a *originAdmin) stats() (originStats, error) {
	var o originStats
	err := a.get("/stats", &o)
	if err == nil && o.Time.IsZero() {
		o.Time = time.Now() // an older fault server: no snapshot time of its own
	}
	return o, err
}

func (a *originAdmin) events(since time.Time) ([]results.OriginEvent, uint64, error) {
	var reply struct {
		Events  []results.OriginEvent `json:"events"`
		Dropped uint64                `json:"dropped"`
	}
	err := a.get("/events?since="+url.QueryEscape(since.UTC().Format(time.RFC3339Nano)), &reply)
	return reply.Events, reply.Dropped, err
}

func (a *originAdmin) get(path string, v any) error {
	resp, err := a.client.Get(a.base + path)
	if err != nil {
		return fmt.Errorf("--origin-admin: %w (is `gatecrash serve --admin` listening there?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("--origin-admin: GET %s%s: %s: %s (is this a gatecrash fault server's admin address?)", a.base, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("--origin-admin: GET %s%s: %w (is this a gatecrash fault server's admin address?)", a.base, path, err)
	}
	return nil
}
