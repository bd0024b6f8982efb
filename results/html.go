package results

import (
	"bytes"
	"fmt"
	"html"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// FormatHTML is the self-contained HTML report.
const FormatHTML = "html"

// palette colours the results in plots, in order.
var palette = []color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, {R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

// WriteHTML writes one self-contained HTML file (inline CSS and SVG, nothing fetched, works
// offline): per result a summary table, the comparison when there are several, a latency
// percentile plot per outcome class on a "nines" axis with the results overlaid (as
// HdrHistogram's plotter draws them), and a timeline of each result's outcomes over time.
func WriteHTML(w io.Writer, rs []*Result) error {
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gatecrash report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 4px 10px; text-align: right; }
th { background: #eee; } td:first-child, th:first-child { text-align: left; }
tr.error td:first-child { color: #b00; font-weight: bold; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.plot { margin: 1em 0; } .meta { color: #555; }
</style></head><body>
<h1>gatecrash report</h1>
`)
	for i, r := range rs {
		fmt.Fprintf(&b, "<h2 style=\"color:%s\">%s</h2>\n", hexColor(palette[i%len(palette)]), html.EscapeString(title(r)))
		fmt.Fprintf(&b, "<p class=\"meta\">%s %s — %s, %d connections; %s requests in %s%s</p>\n",
			html.EscapeString(r.Target.Method), html.EscapeString(r.Target.URL), html.EscapeString(r.Target.Pattern), r.Target.Connections,
			FormatCount(r.Requests), FormatDuration(r.Duration()), statusNote(r))
		b.WriteString("<table><tr><th>class</th><th>count</th><th>share</th><th>95% interval</th><th>p50</th><th>p90</th>" +
			"<th>p99</th><th>p99.9</th><th>max</th><th>first at</th></tr>\n")
		for _, c := range Classes() {
			o := r.Outcomes[c]
			if o == nil || o.Count == 0 {
				continue
			}
			iv, first, cls := "", "", ""
			if c.IsError() {
				iv, first, cls = RateInterval(o.Count, r.Requests).String(), "+"+FormatDuration(o.First.Sub(r.Start)), ` class="error"`
			}
			fmt.Fprintf(&b, "<tr%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
				cls, c, FormatCount(o.Count), FormatShare(o.Count, r.Requests), iv, FormatDuration(o.Latency.Quantile(50)),
				FormatDuration(o.Latency.Quantile(90)), FormatDuration(o.Latency.Quantile(99)), FormatDuration(o.Latency.Quantile(99.9)),
				FormatDuration(o.Latency.MaxDuration()), first)
		}
		b.WriteString("</table>\n")
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
		}
	}
	if len(rs) > 1 {
		b.WriteString("<h2>Comparison</h2>\n<pre>")
		var cmp strings.Builder
		if err := WriteComparison(&cmp, rs); err != nil {
			return err
		}
		b.WriteString(html.EscapeString(cmp.String()))
		b.WriteString("</pre>\n")
	}
	b.WriteString("<h2>Latency by percentile</h2>\n")
	for _, c := range Classes() {
		if !anyHas(rs, c) {
			continue
		}
		svg, err := percentilePlot(rs, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "<div class=\"plot\" id=\"latency-%s\">%s</div>\n", c, svg)
	}
	b.WriteString("<h2>Outcomes over time</h2>\n")
	for i, r := range rs {
		if r.TimeSeries == nil || len(r.TimeSeries.Buckets) == 0 {
			continue
		}
		svg, err := timelinePlot(r, i)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "<div class=\"plot\" id=\"timeline-%d\">%s</div>\n", i, svg)
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
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
func percentilePlot(rs []*Result, c Class) (string, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: latency by percentile", c)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"
	p.X.Tick.Marker = ninesTicks{}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
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
			return "", err
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s (%s)", name(r), FormatCount(o.Count)), line)
	}
	return renderSVG(p)
}

// timelinePlot draws a result's outcome counts per interval, one line per class.
func timelinePlot(r *Result, idx int) (string, error) {
	ts := r.TimeSeries
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: outcomes per %s", name(r), FormatDuration(ts.Interval))
	p.X.Label.Text = "seconds since start"
	p.Y.Label.Text = "requests"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	offset := ts.Start.Sub(r.Start).Seconds()
	n := 0
	for _, c := range Classes() {
		if ts.Total(c) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(ts.Buckets))
		for i, bk := range ts.Buckets {
			pts[i] = plotter.XY{X: offset + float64(i)*ts.Interval.Seconds(), Y: float64(bk[c])}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return "", err
		}
		line.Color = palette[(int(c)+idx)%len(palette)]
		if c == OK {
			line.Color = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
		}
		line.Width = vg.Points(1.2)
		p.Add(line)
		p.Legend.Add(c.String(), line)
		n++
	}
	if n == 0 {
		return "", nil
	}
	return renderSVG(p)
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
	return s, nil
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
	return s
}
