//go:build linux && !race

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/results"
)

// Rare-event accounting, on the built binaries and without the race detector (make test runs
// these apart, with -run TestRareEvent): at one fault in a million requests, every injected
// fault must be accounted for.

// TestRareEventAccountingDirect drives 3M requests straight at `gatecrash serve` with three
// fault kinds at probability 1e-6 each (seeded): the client's error count equals the origin's
// injected count exactly, and per kind — every error exemplar is paired with the origin's
// fault event on its own connection, and the pairs of each kind number what the origin counted.
func TestRareEventAccountingDirect(t *testing.T) {
	if testing.Short() {
		t.Skip("3M requests")
	}
	const requests = 3_000_000
	bin := buildBinary(t)
	addr, admin := freeAddr(t), freeAddr(t)
	serve := exec.Command(bin, "serve", "--listen", addr, "--admin", admin, "--seed", "20261121",
		"--fault", "rst-headers:probability=0.000001,after-bytes=17",
		"--fault", "cut-body:probability=0.000001",
		"--fault", "close-on-reuse:probability=0.000001")
	var serveLog bytes.Buffer
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Kill(); serve.Wait() }()
	waitListening(t, addr)
	waitListening(t, admin)

	out := filepath.Join(t.TempDir(), "r.json")
	load := exec.Command(bin, "load", "http://"+addr+"/", "--requests", fmt.Sprint(requests), "--connections", "8",
		"--origin-admin", "http://"+admin, "--out", out, "-q")
	if b, err := load.CombinedOutput(); err != nil {
		t.Fatalf("load: %v\n%s\nserve:\n%s", err, b, serveLog.String())
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != requests || r.Aborted != 0 {
		t.Fatalf("%d requests with an outcome (%d aborted), want all %d", r.Requests, r.Aborted, requests)
	}
	if r.Origin == nil {
		t.Fatal("no origin ground truth in the result")
	}
	injected := int64(r.Origin.FaultsTotal())
	t.Logf("%d requests: client errors %d, origin injected %v, events %d", r.Requests, r.Errors(), r.Origin.Faults, len(r.Origin.Events))
	if injected == 0 {
		t.Fatal("no fault injected in 3M requests at 3e-6: nothing was tested (change the seed)")
	}
	if r.Errors() != injected {
		t.Fatalf("client errors %d != origin injected %d (%v)", r.Errors(), injected, r.Origin.Faults)
	}
	if int64(len(r.Origin.Events)) != injected || r.Origin.EventsDropped != 0 {
		t.Fatalf("origin events %d (dropped %d), injected %d", len(r.Origin.Events), r.Origin.EventsDropped, injected)
	}
	byKind := map[string]uint64{}
	for c, ex := range r.Exemplars {
		if int64(len(ex)) != r.Count(c) {
			t.Fatalf("class %s: %d exemplars for %d errors; the test needs every error as an exemplar", c, len(ex), r.Count(c))
		}
		for _, e := range ex {
			if e.Origin == nil || !e.Origin.SameConnection {
				t.Fatalf("class %s error at %s on %s is not paired with an origin event on its connection: %+v", c, e.Time, e.Local, e.Origin)
			}
			byKind[e.Origin.Event.Kind]++
		}
	}
	for kind, n := range r.Origin.Faults {
		if byKind[kind] != n {
			t.Errorf("kind %s: origin injected %d, client errors paired with it %d", kind, n, byKind[kind])
		}
	}
}

// TestRareEventAccountingThroughProxy runs the embedded proxy (Go's ReverseProxy, which
// retries an idempotent request whose reused upstream connection closed) over an origin with
// faults at 1e-4: every injected fault is either client-visible (an error) or absorbed (the
// proxy retried it: one more request started at the origin than the client sent).
func TestRareEventAccountingThroughProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("200k requests")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "rare.yaml")
	os.WriteFile(sc, []byte(`apiVersion: gatecrash/v1
name: rare
description: faults at 1e-4 through the embedded proxy
origin:
  seed: 1121
  faults:
    - kind: close-on-reuse
      probability: 0.0001
    - kind: rst-headers
      after-bytes: 17
      probability: 0.0001
    - kind: cut-body
      probability: 0.0001
proxy:
  kind: embedded
load:
  pattern: closed
  connections: 8
  requests: 200000
  duration: 2m
variants:
  - name: default
`), 0o644)
	out := filepath.Join(dir, "run")
	c := exec.Command(bin, "run", sc, "--out", out, "-q")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, b)
	}
	r, err := results.ReadFile(filepath.Join(out, "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Origin == nil || r.Requests != 200000 {
		t.Fatalf("requests %d, origin %v", r.Requests, r.Origin)
	}
	injected := int64(r.Origin.FaultsTotal())
	retries := int64(r.Origin.RequestsStarted) - r.Requests
	t.Logf("client errors %d + retried by the proxy %d = %d; origin injected %d %v", r.Errors(), retries, r.Errors()+retries, injected, r.Origin.Faults)
	if r.Errors() == 0 || retries == 0 {
		t.Fatalf("want both client-visible (%d) and absorbed (%d) faults; the test checks nothing otherwise", r.Errors(), retries)
	}
	if r.Errors()+retries != injected {
		t.Fatalf("client-visible %d + absorbed %d != injected %d (%v)", r.Errors(), retries, injected, r.Origin.Faults)
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}
