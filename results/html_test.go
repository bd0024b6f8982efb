package results

import (
	"bytes"
	"fmt"
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
	img := e2e.Screenshot(t, page, 1200, 6000)
	// The first table (dark text on white) sits in the top 500 px; the plots further down
	// draw the results' colours.
	dark := func(r, g, b uint8) bool { return int(r)+int(g)+int(b) < 3*0x60 }
	if n := len(e2e.Pixels(img, image.Rect(0, 100, 1200, 500), dark)); n < 500 {
		t.Fatalf("only %d dark pixels where the summary table should be", n)
	}
	// The two variants' colours (blue, purple) in the latency plots; the 502 class's red in
	// the default variant's timeline.
	below := image.Rect(0, 900, 1200, 6000)
	nb, np := len(e2e.Pixels(img, below, e2e.Near(0x1f, 0x77, 0xb4))), len(e2e.Pixels(img, below, e2e.Near(0x94, 0x67, 0xbd)))
	if nr := len(e2e.Pixels(img, below, e2e.Near(0xd6, 0x27, 0x28))); nb < 200 || np < 200 || nr < 50 {
		t.Fatalf("plot lines missing: %d blue, %d purple and %d red pixels below the tables", nb, np, nr)
	}
}

// gapPair is goldenPair swept across an origin's 50 ms idle timeout: the default variant's
// errors spike at the timeout, the fixed one (proxy window 30 ms) stays flat; a bucket of one
// request with an error in the default one.
func gapPair(t *testing.T) []*Result {
	rs := goldenPair(t)
	for i, r := range rs {
		g := GapBucketsFor(50*time.Millisecond, 2*time.Millisecond)
		for j := range g.Buckets {
			g.Buckets[j].Requests = 40
			if i == 0 && j >= 28 && j <= 31 {
				g.Buckets[j].Errors = 12
			}
		}
		if i == 0 {
			g.Buckets[2] = GapBucket{Requests: 1, Errors: 1}
		}
		window := []string{"60s", "30ms"}[i]
		d, _ := time.ParseDuration(window)
		g.Marks = []GapMark{{At: Seconds(50 * time.Millisecond), What: "origin idle timeout"}, {At: Seconds(d), What: "proxy idle window"}}
		r.Gaps = g
	}
	return rs
}

// TestHTMLLayoutInChromium reads the report as a real headless Chromium lays it out at 1400
// px: the header's fields, the verdict box's colour by outcome, the race-window plot's marks
// and sparse buckets in its legend, plots as wide as the page, and nothing wider than the
// viewport even with a long command line and a comparison of six variants.
func TestHTMLLayoutInChromium(t *testing.T) {
	t.Parallel()
	rs := gapPair(t)
	for i := range 4 { // six variants: a wide comparison table
		r := *rs[1]
		r.Variant = fmt.Sprintf("variant-with-a-long-name-%d", i)
		rs = append(rs, &r)
	}
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	hd := HTMLHeader{Title: "keepalive-race", Description: "F1 keep-alive idle race", Proxy: "nginx 1.22.1", Version: "v1.2.3",
		Date: start, Command: "gatecrash run keepalive-race --proxy nginx --out " + strings.Repeat("very_long_directory_name_", 16)}
	for _, tc := range []struct {
		met    bool
		head   string
		border string
	}{
		{true, "Thresholds met", "rgb(44, 122, 44)"},
		{false, "Thresholds NOT MET", "rgb(187, 0, 0)"},
	} {
		hd.Verdicts = []HTMLVerdict{{Text: "default: errors > 0", Met: true}, {Text: "fixed: errors == 0", Met: tc.met}}
		page := filepath.Join(t.TempDir(), "report.html")
		var b bytes.Buffer
		if err := WriteHTMLWith(&b, rs, hd); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(page, b.Bytes(), 0o644)
		l := e2e.LayOutReport(t, page, 1400)
		if l.H1 != "gatecrash: keepalive-race" || l.About["proxy"] != "nginx 1.22.1" || l.About["gatecrash"] != "v1.2.3" ||
			l.About["date"] != "2026-12-03 10:00:00 UTC" || !strings.HasPrefix(l.About["command"], "gatecrash run keepalive-race") {
			t.Errorf("header: %q %q", l.H1, l.About)
		}
		if l.VerdictText != tc.head || l.VerdictBorder != tc.border {
			t.Errorf("verdict box %q in %s, want %q in %s", l.VerdictText, l.VerdictBorder, tc.head, tc.border)
		}
		if l.ScrollWidth > l.Viewport || l.Right > l.Viewport {
			t.Errorf("wider than the %v px viewport: content %v px, %s reaches %v px", l.Viewport, l.ScrollWidth, l.Widest, l.Right)
		}
		if len(l.PlotWidths) == 0 {
			t.Fatal("no plots laid out")
		}
		for _, w := range l.PlotWidths {
			if w < 0.9*l.Viewport {
				t.Errorf("a plot %v px wide in a %v px page: %v", w, l.Viewport, l.PlotWidths)
			}
		}
		legend := strings.Join(l.RaceLegend, " | ")
		for _, want := range []string{"origin idle timeout 50.00ms", "proxy idle window 30.00ms (off the plot)", "proxy idle window 1m0s (off the plot)",
			"hollow: a bucket of fewer than 10 requests"} {
			if !strings.Contains(legend, want) {
				t.Errorf("race-window legend lacks %q: %s", want, legend)
			}
		}
	}
}

// TestRaceWindowMarksInChromium draws the race-window plot alone and finds the origin's
// timeout mark (a black dashed vertical line) where the default variant's errors spike, and
// no line point at the sparse bucket's 100%.
func TestRaceWindowMarksInChromium(t *testing.T) {
	t.Parallel()
	svg, legend, err := GapPlot(gapPair(t))
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "race.html")
	os.WriteFile(page, []byte(`<!doctype html><html><head><style>body{margin:0} svg{display:block;width:1000px;height:auto}</style></head><body>`+
		svg+legend+`</body></html>`), 0o644)
	img := e2e.Screenshot(t, page, 1000, 500)
	plotArea := image.Rect(0, 0, 1000, 444)
	blue := e2e.Pixels(img, plotArea, e2e.Near(0x1f, 0x77, 0xb4))
	if len(blue) < 50 {
		t.Fatalf("the default variant's line is missing: %d blue pixels", len(blue))
	}
	// The spike: the default line's highest point right of the sparse bucket, which sits at
	// the left edge of the plot (bucket 2 of 60).
	spike := image.Point{Y: 1 << 30}
	for _, p := range blue {
		if p.X > 300 && p.Y < spike.Y {
			spike = p
		}
	}
	// The mark: a vertical black line right of the y axis (which is left of x=150).
	mark := e2e.VerticalLine(img, image.Rect(150, plotArea.Min.Y, plotArea.Max.X, plotArea.Max.Y), 100, e2e.Black)
	if mark < 0 {
		t.Fatal("no origin-timeout mark: no black vertical line right of the y axis")
	}
	if d := mark - spike.X; d < -25 || d > 25 {
		t.Fatalf("the origin's timeout is marked at x=%d, the errors spike at x=%d", mark, spike.X)
	}
	// The sparse bucket (1 request, 1 error: 100%) is drawn as a small ring, off the line: a
	// line climbing to it from 0% and back would put hundreds of blue pixels above the spike's
	// 30%; the ring a few dozen at most.
	high := 0
	for _, p := range blue {
		if p.Y < spike.Y-10 {
			high++
		}
	}
	t.Logf("spike %v mark %d high %d blue %d", spike, mark, high, len(blue))
	if high > 60 {
		t.Fatalf("%d blue pixels above the spike: the sparse bucket was drawn into the line", high)
	}
}

func TestFormatPercent(t *testing.T) {
	t.Parallel()
	for f, want := range map[float64]string{0: "0%", 1: "100.0%", 0.0476: "4.8%", 0.01: "1.0%", 0.0048: "0.48%", 0.00012: "0.012%",
		0.0001: "0.010%", 0.000032: "3.2e-03%", 1e-8: "1.0e-06%"} {
		if got := FormatPercent(f); got != want {
			t.Errorf("FormatPercent(%v) = %q, want %q", f, got, want)
		}
	}
	if got, want := RateInterval(2, 42).Pct(), "4.8% (0.58%..16.2%)"; got != want {
		t.Errorf("Pct = %q, want %q", got, want)
	}
	if got := RateInterval(0, 1000).Pct(); got != "0% (< 0.30%)" {
		t.Errorf("Pct of none = %q", got)
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

// TestPlotBinning: a short sweep's buckets are drawn joined until a point has 10 requests on
// average; a long one's one by one.
func TestPlotBinning(t *testing.T) {
	t.Parallel()
	g := GapBucketsFor(50*time.Millisecond, 2*time.Millisecond) // 60 buckets, the sweep in the middle 40
	fill := func(per int64) {
		for j := range g.Buckets {
			g.Buckets[j].Requests = 0
			if j >= 10 && j < 50 {
				g.Buckets[j].Requests = per
			}
		}
	}
	for per, want := range map[int64]int{40: 1, 10: 1, 5: 2, 3: 4, 1: 10} {
		fill(per)
		if got := plotBinning(g); got != want {
			t.Errorf("%d requests per bucket: %d buckets per point, want %d", per, got, want)
		}
	}
	fill(0)
	if got := plotBinning(g); got != 1 {
		t.Errorf("no requests: %d buckets per point", got)
	}
}
