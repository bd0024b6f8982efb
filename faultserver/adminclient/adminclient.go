// Package adminclient reads and drives a gatecrash fault server through its admin API
// (gatecrash serve --admin), typed as the server writes it: its counters (faultserver.Stats),
// its fault events, and its fault plan. A Client is a faultserver.Origin, so a load run
// against a proxy in front of a fault server elsewhere takes the origin's ground truth the
// way gatecrash run takes it from an origin in its own process (faultserver.Watch).
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatecrash/gatecrash/faultserver"
)

// maxReply bounds what the client reads of one answer (the event log at its fullest is a few
// MiB of JSON).
const maxReply = 64 << 20

// Client talks to one fault server's admin API.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client of the admin API at base (http://host:port, as given to gatecrash
// serve --admin). Requests time out after 5 s unless their context ends first.
func New(base string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL; give the fault server's admin address, e.g. http://127.0.0.1:9002", base)
	}
	return &Client{base: strings.TrimRight(base, "/"), hc: &http.Client{Timeout: 5 * time.Second}}, nil
}

// String returns the admin API's base URL.
func (c *Client) String() string { return c.base }

// Snapshot returns the server's counters (GET /stats). A server too old to stamp its
// snapshots gets the time the answer arrived.
func (c *Client) Snapshot(ctx context.Context) (faultserver.Stats, error) {
	var st faultserver.Stats
	err := c.do(ctx, http.MethodGet, "/stats", nil, func(r io.Reader) error { return json.NewDecoder(r).Decode(&st) })
	if err == nil && st.Time.IsZero() {
		st.Time = time.Now()
	}
	return st, err
}

// Events returns the fault events the server logged at or after since (GET /events), and how
// many older ones its bounded log dropped.
func (c *Client) Events(ctx context.Context, since time.Time) (faultserver.EventsReply, error) {
	var reply faultserver.EventsReply
	path := "/events?since=" + url.QueryEscape(since.UTC().Format(time.RFC3339Nano))
	err := c.do(ctx, http.MethodGet, path, nil, func(r io.Reader) error { return json.NewDecoder(r).Decode(&reply) })
	return reply, err
}

// Plan returns the fault plan being served (GET /faults).
func (c *Client) Plan(ctx context.Context) (*faultserver.Config, error) {
	var cfg *faultserver.Config
	err := c.do(ctx, http.MethodGet, "/faults", nil, func(r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		cfg, err = faultserver.ParseConfig(b, c.base+"/faults")
		return err
	})
	return cfg, err
}

// SetPlan replaces the fault plan (PUT /faults); the server checks it as it checks --config and
// says what is wrong.
func (c *Client) SetPlan(ctx context.Context, cfg *faultserver.Config) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPut, "/faults", b, func(io.Reader) error { return nil })
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, decode func(io.Reader) error) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w (is `gatecrash serve --admin` listening there?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		hint := ""
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			hint = " (is this a gatecrash fault server's admin address?)"
		}
		return fmt.Errorf("%s %s%s: %s: %s%s", method, c.base, path, resp.Status, strings.TrimSpace(string(b)), hint)
	}
	if err := decode(io.LimitReader(resp.Body, maxReply)); err != nil {
		return fmt.Errorf("%s %s%s: %w (is this a gatecrash fault server's admin address?)", method, c.base, path, err)
	}
	return nil
}

var _ faultserver.Origin = (*Client)(nil)
