package results

import (
	"bytes"
	"fmt"
	"html"
	"image/color"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// FormatHTML is the self-contained HTML report.
const FormatHTML = "html"

// Colours mean one thing each, everywhere in the report. variantColors colour the results (a
// scenario's variants) — their headings and their lines in the latency and race-window plots
// — and are cool colours only; classColors colour the outcome classes — the summary tables'
// swatches and the timelines' lines — the same in every result: green for ok, warm colours
// for the errors. So a red line is always a 502, never "the second variant".
var variantColors = []color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, {R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
	{R: 0x39, G: 0x3b, B: 0x79, A: 0xff}, {R: 0x6b, G: 0xae, B: 0xd6, A: 0xff}, {R: 0x52, G: 0x54, B: 0xa3, A: 0xff},
}

var classColors = [NumClasses]color.RGBA{
	OK:           {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	Status4xx:    {R: 0xbc, G: 0xbd, B: 0x22, A: 0xff}, // olive
	Status502:    {R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	Status503:    {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	Status504:    {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
	Status5xx:    {R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, // pink
	NoResponse:   {R: 0x7f, G: 0x00, B: 0x00, A: 0xff}, // maroon
	Reset:        {R: 0xc5, G: 0x1b, B: 0x7d, A: 0xff}, // magenta
	Truncated:    {R: 0xfd, G: 0xae, B: 0x61, A: 0xff}, // light orange
	Timeout:      {R: 0xa6, G: 0x76, B: 0x1d, A: 0xff}, // ochre
	ConnectError: {R: 0x63, G: 0x63, B: 0x63, A: 0xff}, // grey
	TLSError:     {R: 0xe6, G: 0x55, B: 0x0d, A: 0xff}, // dark orange
	Malformed:    {R: 0x00, G: 0x00, B: 0x00, A: 0xff}, // black
	// HTTP/2
	RefusedStream: {R: 0x7b, G: 0x41, B: 0x73, A: 0xff}, // plum
	StreamReset:   {R: 0xb1, G: 0x59, B: 0x28, A: 0xff}, // rust
	GoAway:        {R: 0x4d, G: 0x00, B: 0x4b, A: 0xff}, // dark purple
}

func variantColor(i int) color.RGBA { return variantColors[i%len(variantColors)] }

func classColor(c Class) color.RGBA {
	if int(c) < len(classColors) {
		return classColors[c]
	}
	return color.RGBA{A: 0xff}
}

// The race-window plot's marks, neither a variant nor a class: a server's idle timeout (the
// origin's: where the race is) and a pool's idle window (the proxy's).
var (
	originMarkColor = color.RGBA{A: 0xff}                            // black, dashed
	proxyMarkColor  = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff} // dark grey, dotted
)

// WriteHTML writes one self-contained HTML file (inline CSS and SVG, nothing fetched, works
// offline): per result a summary table, the comparison when there are several, a latency
// percentile plot per outcome class on a "nines" axis with the results overlaid (as
// HdrHistogram's plotter draws them), and a timeline of each result's outcomes over time.
func WriteHTML(w io.Writer, rs []*Result) error { return WriteHTMLWith(w, rs, HTMLHeader{}) }

// HTMLHeader is what a report opened from a ticket says first: what was run, against what,
// by which gatecrash, when and how, and whether the thresholds held. Empty fields are left
// out; the title defaults to the results' scenario.
type HTMLHeader struct {
	Title, Description string
	Proxy              string
	Version            string
	Date               time.Time
	Command            string
	// Verdicts are the thresholds checked, one line each, and whether each was met.
	Verdicts []HTMLVerdict
}

// HTMLVerdict is one threshold checked.
type HTMLVerdict struct {
	Text string
	Met  bool
}

// WriteHTMLWith is WriteHTML with a header.
func WriteHTMLWith(w io.Writer, rs []*Result, hd HTMLHeader) error {
	if hd.Title == "" && len(rs) > 0 && rs[0].Scenario != "" {
		hd.Title = rs[0].Scenario
	}
	pageTitle := "gatecrash report"
	if hd.Title != "" {
		pageTitle = "gatecrash: " + hd.Title
	}
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>` + html.EscapeString(pageTitle) + `</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; overflow-wrap: anywhere; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; display: block; max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #bbb; padding: 4px 10px; text-align: right; }
th { background: #eee; } td:first-child, th:first-child { text-align: left; }
tr.error td:first-child { font-weight: bold; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.plot { margin: 1em 0; } .plot svg { display: block; width: 100%; height: auto; } .meta { color: #555; }
.legend { display: flex; flex-wrap: wrap; gap: 0.4em 1.5em; font-size: 0.9em; margin: 0.2em 0 0 3em; }
.swatch { display: inline-block; width: 1.6em; height: 0.35em; margin-right: 0.4em; vertical-align: middle; }
.swatch.dashed { height: 0; border-top: 2px dashed; background: none; } .swatch.dotted { height: 0; border-top: 2px dotted; background: none; }
.swatch.ring { width: 0.5em; height: 0.5em; border: 1.5px solid; border-radius: 50%; background: none; }
.about { color: #444; } .about dt { float: left; clear: left; width: 7em; color: #777; } .about dd { margin-left: 8em; }
.verdict { border: 2px solid; padding: 0.6em 1em; margin: 1em 0; max-width: 60em; }
.verdict.met { border-color: #2c7a2c; background: #eef7ee; } .verdict.notmet { border-color: #b00; background: #fbeeee; }
.verdict li.notmet { color: #b00; font-weight: bold; }
</style></head><body>
`)
	writeHTMLHeader(&b, pageTitle, hd)
	for i, r := range rs {
		fmt.Fprintf(&b, "<h2 style=\"color:%s\">%s</h2>\n", hexColor(variantColor(i)), html.EscapeString(title(r)))
		fmt.Fprintf(&b, "<p class=\"meta\">%s %s — %s, %s; %s requests in %s%s</p>\n",
			html.EscapeString(r.Target.Method), html.EscapeString(r.Target.URL), html.EscapeString(r.Target.Pattern), r.Target.ConnectionsText(),
			FormatCount(r.Requests), FormatDuration(r.Duration()), statusNote(r))
		b.WriteString("<table><tr><th>class</th><th>count</th><th>share (95% interval)</th><th>p50</th><th>p90</th>" +
			"<th>p99</th><th>p99.9</th><th>max</th><th>first at</th></tr>\n")
		for _, c := range Classes() {
			o := r.Outcomes[c]
			if o == nil || o.Count == 0 {
				continue
			}
			share, first, cls := FormatPercent(float64(o.Count)/float64(max(r.Requests, 1))), "", ""
			if c.IsError() {
				share, first, cls = RateInterval(o.Count, r.Requests).Pct(), "+"+FormatDuration(o.First.Sub(r.Start)), ` class="error"`
			}
			fmt.Fprintf(&b, "<tr%s><td><span class=\"swatch\" style=\"background:%s\"></span>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
				cls, hexColor(classColor(c)), c, FormatCount(o.Count), share, FormatDuration(o.Latency.Quantile(50)),
				FormatDuration(o.Latency.Quantile(90)), FormatDuration(o.Latency.Quantile(99)), FormatDuration(o.Latency.Quantile(99.9)),
				FormatDuration(o.Latency.MaxDuration()), first)
		}
		b.WriteString("</table>\n")
		if len(r.PerTarget) > 0 {
			fmt.Fprintf(&b, "<table class=\"targets\"><tr><th>target (%d, sent in turn)</th><th>requests</th><th>errors</th><th>outcomes</th></tr>\n", len(r.PerTarget))
			for _, t := range r.PerTarget {
				fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", html.EscapeString(t.Method+" "+t.URL),
					FormatCount(t.Requests), t.errorsCell(func(p, n int64) string { return FormatPercent(float64(p) / float64(n)) }),
					html.EscapeString(t.Line()))
			}
			b.WriteString("</table>\n")
		}
		if r.Target.Client != "" {
			fmt.Fprintf(&b, "<p>Client model %s: %s stale connections discarded before reuse.</p>\n",
				html.EscapeString(r.Target.Client), FormatCount(r.Connections.StaleDiscarded))
		}
		if re := r.ReusedErrors(); len(re) > 0 {
			fmt.Fprintf(&b, "<p>Errors on reused connections: %s (stale: the peer's close was there before the request was "+
				"written; race: it came after).</p>\n", html.EscapeString(strings.Join(re, "; ")))
		}
		if o, ok := r.OriginTruth(); ok {
			fmt.Fprintf(&b, "<p>Origin ground truth: %s requests seen; faults injected: %s.</p>\n", FormatCount(int64(o.RequestsStarted)), html.EscapeString(faultList(o)))
			if o.Relay != nil {
				fmt.Fprintf(&b, "<p>Relay: %s.</p>\n", html.EscapeString(o.Relay.Sentence()))
			}
		}
	}
	if len(rs) > 1 {
		b.WriteString("<h2>Comparison</h2>\n<table id=\"comparison\">\n")
		for i, row := range comparisonTable(rs, true) {
			cell := "td"
			if i == 0 {
				cell = "th"
			}
			b.WriteString("<tr>")
			for _, c := range row {
				fmt.Fprintf(&b, "<%s>%s</%s>", cell, html.EscapeString(c), cell)
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</table>\n")
		if diffs := Differences(rs); len(diffs) > 0 {
			b.WriteString("<p>Differences (95%, Fisher's exact test):</p>\n<ul>\n")
			for _, d := range diffs {
				fmt.Fprintf(&b, "<li>%s</li>\n", html.EscapeString(d.text(Interval.Pct)))
			}
			b.WriteString("</ul>\n")
		}
	}
	if anyGaps(rs) {
		b.WriteString("<h2>Race window: errors by idle gap</h2>\n<p>Each request's idle gap is how long its connection sat " +
			"idle before it. A spike where the gap crosses the origin's idle timeout is the keep-alive race; a fixed " +
			"configuration stays flat.</p>\n")
		for _, r := range rs {
			if line := gapLine(r); line != "" {
				fmt.Fprintf(&b, "<p>%s: %s</p>\n", html.EscapeString(name(r)), html.EscapeString(line))
			}
		}
		svg, legend, err := GapPlot(rs)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "<div class=\"plot\" id=\"race-window\">%s%s</div>\n", svg, legend)
	}
	b.WriteString("<h2>Latency by percentile</h2>\n")
	for _, c := range Classes() {
		if !anyHas(rs, c) {
			continue
		}
		svg, legend, err := percentilePlot(rs, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "<div class=\"plot\" id=\"latency-%s\">%s%s</div>\n", c, svg, legend)
	}
	b.WriteString("<h2>Outcomes over time</h2>\n")
	for i, r := range rs {
		if r.TimeSeries == nil || len(r.TimeSeries.Buckets) == 0 {
			continue
		}
		svg, legend, err := timelinePlot(r, i)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "<div class=\"plot\" id=\"timeline-%d\">%s%s</div>\n", i, svg, legend)
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHTMLHeader writes the title, what was run and the thresholds' verdict box.
func writeHTMLHeader(b *strings.Builder, title string, hd HTMLHeader) {
	fmt.Fprintf(b, "<h1>%s</h1>\n", html.EscapeString(title))
	if hd.Description != "" {
		fmt.Fprintf(b, "<p class=\"about\">%s</p>\n", html.EscapeString(hd.Description))
	}
	var rows [][2]string
	for _, kv := range [][2]string{{"proxy", hd.Proxy}, {"gatecrash", hd.Version}, {"command", hd.Command}} {
		if kv[1] != "" {
			rows = append(rows, kv)
		}
	}
	if !hd.Date.IsZero() {
		rows = append(rows, [2]string{"date", hd.Date.UTC().Format("2006-01-02 15:04:05 UTC")})
	}
	if len(rows) > 0 {
		b.WriteString("<dl class=\"about\">")
		for _, kv := range rows {
			fmt.Fprintf(b, "<dt>%s</dt><dd>%s</dd>", kv[0], html.EscapeString(kv[1]))
		}
		b.WriteString("</dl>\n")
	}
	if len(hd.Verdicts) == 0 {
		return
	}
	met := true
	for _, v := range hd.Verdicts {
		met = met && v.Met
	}
	class, head := "met", "Thresholds met"
	if !met {
		class, head = "notmet", "Thresholds NOT MET"
	}
	fmt.Fprintf(b, "<div class=\"verdict %s\" id=\"verdict\"><strong>%s</strong><ul>", class, head)
	for _, v := range hd.Verdicts {
		c := "met"
		if !v.Met {
			c = "notmet"
		}
		fmt.Fprintf(b, "<li class=\"%s\">%s</li>", c, html.EscapeString(v.Text))
	}
	b.WriteString("</ul></div>\n")
}

func hexColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// ninesTicks labels a "nines" axis: x = -log10(1 - q) puts 90% at 1, 99% at 2, 99.9% at 3.
type ninesTicks struct{}

func (ninesTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for x := math.Floor(lo); x <= math.Ceil(hi); x++ {
		ts = append(ts, plot.Tick{Value: x, Label: ninesLabel(x)})
	}
	return ts
}

func ninesLabel(x float64) string {
	if x <= 0 {
		return "0%"
	}
	q := 100 * (1 - math.Pow(10, -x))
	// 1 -> 90%, 2 -> 99%, 3 -> 99.9%, 4 -> 99.99%
	return strconv.FormatFloat(q, 'f', max(0, int(x)-2), 64) + "%"
}

// percentilePlot draws class c's latency against percentile for every result that has it.
func percentilePlot(rs []*Result, c Class) (svg, legend string, err error) {
	var items []legendItem
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: latency by percentile", c)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"
	p.X.Tick.Marker = ninesTicks{}
	p.Add(plotter.NewGrid())
	for i, r := range rs {
		o := r.Outcomes[c]
		if o == nil || o.Count == 0 {
			continue
		}
		// Up to the last nine the count supports: n requests show about log10(n) nines.
		top := math.Max(1, math.Log10(float64(o.Count)))
		var pts plotter.XYs
		for x := 0.0; x <= top+1e-9; x += 0.02 {
			q := 100 * (1 - math.Pow(10, -x))
			pts = append(pts, plotter.XY{X: x, Y: float64(o.Latency.ValueAtQuantile(q)) / 1000})
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return "", "", err
		}
		line.Color = variantColor(i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		items = append(items, legendItem{label: fmt.Sprintf("%s (%s)", name(r), FormatCount(o.Count)), color: line.Color})
	}
	svg, err = renderSVG(p)
	return svg, legendHTML(items), err
}

// timelinePlot draws a result's outcome counts per interval, one line per class.
func timelinePlot(r *Result, idx int) (svg, legend string, err error) {
	var items []legendItem
	ts := r.TimeSeries
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: outcomes per %s", name(r), FormatDuration(ts.Interval))
	p.X.Label.Text = "seconds since start"
	p.Y.Label.Text = "requests"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	offset := ts.Start.Sub(r.Start).Seconds()
	n := 0
	for _, c := range Classes() {
		if ts.Total(c) == 0 {
			continue
		}
		col := classColor(c)
		// One line per stretch the load ran: a downtime (a crashed soak resumed later) is a
		// gap in the line, not zero traffic.
		var runs []plotter.XYs
		var cur plotter.XYs
		for i, bk := range ts.Buckets {
			from := ts.Start.Add(time.Duration(i) * ts.Interval)
			if !r.activeAt(from, from.Add(ts.Interval)) {
				if len(cur) > 0 {
					runs, cur = append(runs, cur), nil
				}
				continue
			}
			cur = append(cur, plotter.XY{X: offset + float64(i)*ts.Interval.Seconds(), Y: float64(bk[c])})
		}
		if len(cur) > 0 {
			runs = append(runs, cur)
		}
		for _, pts := range runs {
			line, err := plotter.NewLine(pts)
			if err != nil {
				return "", "", err
			}
			line.Color, line.Width = col, vg.Points(1.2)
			p.Add(line)
		}
		items = append(items, legendItem{label: c.String(), color: col})
		n++
	}
	if n == 0 {
		return "", "", nil
	}
	svg, err = renderSVG(p)
	return svg, legendHTML(items), err
}

// legendItem is one line of a plot's legend: a line in its colour, or (style) a dashed or
// dotted line or a ring.
type legendItem struct {
	label string
	color color.Color
	style string
}

// legendHTML writes a plot's legend as HTML under the plot, where it cannot cover a line.
func legendHTML(items []legendItem) string {
	var b strings.Builder
	b.WriteString(`<div class="legend">`)
	for _, it := range items {
		r, g, bl, _ := it.color.RGBA()
		cls, prop := "swatch", "background"
		if it.style != "" {
			cls, prop = "swatch "+it.style, "border-color"
		}
		fmt.Fprintf(&b, `<span><span class="%s" style="%s:#%02x%02x%02x"></span>%s</span>`, cls, prop, r>>8, g>>8, bl>>8,
			html.EscapeString(it.label))
	}
	b.WriteString("</div>")
	return b.String()
}

// gapLine is a result's worst idle-gap bucket, for the text above the race-window plot.
func gapLine(r *Result) string {
	if r.Gaps == nil {
		return ""
	}
	if l := r.Gaps.WorstLine(); l != "" {
		return "worst idle gap " + l
	}
	return "no errors at any idle gap"
}

// GapPlot draws the error rate (percent) against the idle gap (ms) for every result with gap
// buckets, one line per result on one plot, and returns the SVG and an HTML legend. A bucket
// with fewer than MinGapRequests requests is a hollow point off the line (one error in two
// requests is not a 50% rate); the timeouts the run knew (Gaps.Marks) are vertical lines.
func GapPlot(rs []*Result) (svg, legend string, err error) {
	var items []legendItem
	p := plot.New()
	p.Title.Text = "errors by idle gap before the request"
	p.X.Label.Text = "idle gap (ms)"
	p.Y.Label.Text = "error rate (%)"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	sparse := false
	ymax := 1.0 // a flat zero line stays visible as zero
	xlo, xhi := math.Inf(1), math.Inf(-1)
	var marks []GapMark
	for i, r := range rs {
		g := r.Gaps
		if g == nil {
			continue
		}
		xlo = math.Min(xlo, time.Duration(g.Lo).Seconds()*1000)
		xhi = math.Max(xhi, g.Start(len(g.Buckets)).Seconds()*1000)
		for _, m := range g.Marks {
			if !slices.Contains(marks, m) {
				marks = append(marks, m)
			}
		}
		var pts, few plotter.XYs
		k := plotBinning(g)
		for j := 0; j < len(g.Buckets); j += k {
			var bk GapBucket
			for _, b := range g.Buckets[j:min(j+k, len(g.Buckets))] {
				bk.add(b)
			}
			if bk.Requests == 0 {
				continue
			}
			mid := (g.Start(j) + time.Duration(g.Width)*time.Duration(k)/2).Seconds() * 1000
			pt := plotter.XY{X: mid, Y: 100 * float64(bk.Errors) / float64(bk.Requests)}
			ymax = math.Max(ymax, pt.Y)
			if bk.Requests < MinGapRequests {
				few = append(few, pt)
			} else {
				pts = append(pts, pt)
			}
		}
		col := variantColor(i)
		if len(pts) > 0 {
			lp, sc, err := plotter.NewLinePoints(pts)
			if err != nil {
				return "", "", err
			}
			lp.Color, lp.Width = col, vg.Points(1.5)
			sc.Color, sc.Shape, sc.Radius = col, draw.CircleGlyph{}, vg.Points(2)
			p.Add(lp, sc)
		}
		if len(few) > 0 {
			sc, err := plotter.NewScatter(few)
			if err != nil {
				return "", "", err
			}
			sc.Color, sc.Shape, sc.Radius = col, draw.RingGlyph{}, vg.Points(2.5)
			p.Add(sc)
			sparse = true
		}
		if len(pts)+len(few) > 0 {
			items = append(items, legendItem{label: fmt.Sprintf("%s (%s requests with a gap, in buckets of %s)", name(r),
				FormatCount(g.total()), FormatDuration(time.Duration(g.Width)*time.Duration(k))), color: col})
		}
	}
	p.Y.Max = ymax // the marks span the range the points need
	for _, m := range marks {
		at := time.Duration(m.At).Seconds() * 1000
		label := fmt.Sprintf("%s %s", m.What, FormatDuration(time.Duration(m.At)))
		col, style, dashes := proxyMarkColor, "dotted", []vg.Length{vg.Points(1), vg.Points(3)}
		if strings.HasSuffix(m.What, "idle timeout") { // a server's close: where the race is
			col, style, dashes = originMarkColor, "dashed", []vg.Length{vg.Points(6), vg.Points(3)}
		}
		if at < xlo || at > xhi {
			items = append(items, legendItem{label: label + " (off the plot)", color: col, style: style})
			continue
		}
		ln, err := plotter.NewLine(plotter.XYs{{X: at, Y: 0}, {X: at, Y: ymax}})
		if err != nil {
			return "", "", err
		}
		ln.Color, ln.Width, ln.Dashes = col, vg.Points(1.5), dashes
		p.Add(ln)
		items = append(items, legendItem{label: label, color: col, style: style})
	}
	if sparse {
		items = append(items, legendItem{label: fmt.Sprintf("hollow: a bucket of fewer than %d requests", MinGapRequests),
			color: color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}, style: "ring"})
	}
	svg, err = renderSVG(p)
	return svg, legendHTML(items), err
}

var svgSize = regexp.MustCompile(`^<svg width="[^"]*" height="[^"]*"`)

// plotBinning returns how many of g's buckets the race-window plot draws as one point: the
// fewest that give the points MinGapRequests requests on average, so that a short run draws
// a coarser line instead of a row of one-request buckets at 0% or 100% (the text above the
// plot still names the finest worst bucket). A divisor of the bucket count.
func plotBinning(g *Gaps) int {
	n := len(g.Buckets)
	for k := 1; k < n; k++ {
		if n%k != 0 {
			continue
		}
		var total, points int64
		for j := 0; j < n; j += k {
			var m int64
			for _, b := range g.Buckets[j : j+k] {
				m += b.Requests
			}
			if m > 0 {
				total, points = total+m, points+1
			}
		}
		if points == 0 || total >= MinGapRequests*points {
			return k
		}
	}
	return max(n, 1)
}

// renderSVG draws p as an inline SVG element (no XML prolog, fonts left to the browser).
func renderSVG(p *plot.Plot) (string, error) {
	c := vgsvg.NewWith(vgsvg.UseWH(9*vg.Inch, 4*vg.Inch), vgsvg.EmbedFonts(false))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("rendering plot: %w", err)
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	// As wide as the page, the height following from the viewBox (CSS .plot svg).
	return svgSize.ReplaceAllString(s, `<svg width="100%"`), nil
}

// statusNote says when a result does not cover its whole planned run.
func statusNote(r *Result) string {
	var s string
	if r.Interrupted {
		s += " (interrupted)"
	}
	if r.Partial {
		s += " (partial: a checkpoint up to " + r.End.UTC().Format("2006-01-02 15:04:05Z") + ")"
	}
	if mf := r.MergedFrom(); mf != "" {
		s += "; " + html.EscapeString(mf)
	}
	if tl := r.TimeLine(); tl != "" {
		s += "; <b>" + html.EscapeString(tl) + "</b>"
	}
	return s
}
