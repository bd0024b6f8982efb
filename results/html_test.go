package results

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/e2e"
)

func TestHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteHTML(&b, goldenPair(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<table>", `<table id="comparison">`, "<th>default</th>", `id="latency-ok"`, `id="latency-502"`, `id="timeline-0"`, "<svg", "99%",
		"fixed significantly lower"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Offline: nothing is loaded from anywhere (namespace URIs like xmlns="http://www.w3.org/..."
	// are names, not fetches).
	for _, bad := range []string{`src="http`, `href="http`, `src='http`, `href='http`, "url(http", "@import", "<script", "<link"} {
		if strings.Contains(page, bad) {
			t.Errorf("page loads something from outside itself: %q", bad)
		}
	}
	for x, want := range map[float64]string{0: "0%", 1: "90%", 2: "99%", 3: "99.9%", 5: "99.999%"} {
		if got := ninesLabel(x); got != want {
			t.Errorf("ninesLabel(%v) = %q, want %q", x, got, want)
		}
	}
}

// TestHTMLRendersInChromium opens the report in a real headless Chromium, takes a screenshot
// and checks that the table and the plots were drawn and the console stayed quiet.
func TestHTMLRendersInChromium(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := WriteHTML(&b, goldenPair(t)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(page, b.Bytes(), 0o644)
	img := e2e.Screenshot(t, page, 1200, 2600)
	// The first table (dark text on white) sits in the top 500 px; the plots further down
	// draw the results' colours.
	dark := func(r, g, b uint8) bool { return int(r)+int(g)+int(b) < 3*0x60 }
	if n := len(e2e.Pixels(img, image.Rect(0, 100, 1200, 500), dark)); n < 500 {
		t.Fatalf("only %d dark pixels where the summary table should be", n)
	}
	below := image.Rect(0, 900, 1200, 2600)
	if nb, nr := len(e2e.Pixels(img, below, e2e.Near(0x1f, 0x77, 0xb4))), len(e2e.Pixels(img, below, e2e.Near(0xd6, 0x27, 0x28))); nb < 200 || nr < 200 {
		t.Fatalf("plot lines missing: %d blue and %d red pixels below the tables", nb, nr)
	}
}

// TestHTMLHeader: a report opened from a ticket says what was run, against what, by which
// gatecrash, when and how, and whether the thresholds held — red when one did not; all of it
// escaped.
func TestHTMLHeader(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r := &Result{Schema: Schema, Scenario: "keepalive-race", Variant: "default", Start: start, End: start.Add(time.Second),
		Outcomes: map[Class]*Outcome{}}
	hd := HTMLHeader{Title: "keepalive-race", Description: "F1 <race>", Proxy: "nginx", Version: "v1.2.3", Date: start,
		Command:  "gatecrash run keepalive-race --proxy nginx",
		Verdicts: []HTMLVerdict{{Text: "default: errors > 0 — met", Met: true}, {Text: "fixed: errors == 0 — NOT MET", Met: false}}}
	var b strings.Builder
	if err := WriteHTMLWith(&b, []*Result{r}, hd); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<title>gatecrash: keepalive-race</title>", "<h1>gatecrash: keepalive-race</h1>", "F1 &lt;race&gt;",
		"<dt>proxy</dt><dd>nginx</dd>", "<dt>gatecrash</dt><dd>v1.2.3</dd>", "gatecrash run keepalive-race --proxy nginx",
		"2026-12-03 10:00:00 UTC", `<div class="verdict notmet" id="verdict"><strong>Thresholds NOT MET</strong>`,
		`<li class="notmet">fixed: errors == 0 — NOT MET</li>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	hd.Verdicts = hd.Verdicts[:1]
	b.Reset()
	WriteHTMLWith(&b, []*Result{r}, hd)
	if !strings.Contains(b.String(), `<div class="verdict met" id="verdict"><strong>Thresholds met</strong>`) {
		t.Error("all thresholds met: no green verdict box")
	}
}
