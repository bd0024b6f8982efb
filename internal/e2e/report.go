package e2e

import (
	"encoding/json"
	"testing"
)

// ReportLayout is a gatecrash HTML report as Chromium laid it out (see LayOutReport).
type ReportLayout struct {
	H1 string `json:"h1"`
	// About are the header's fields (proxy, gatecrash, command, date) by name.
	About map[string]string `json:"about"`
	// VerdictText is the verdict box's heading; VerdictBorder its computed border colour
	// ("rgb(r, g, b)"); both empty when the report has no verdict box.
	VerdictText   string `json:"verdictText"`
	VerdictBorder string `json:"verdictBorder"`
	// Viewport is the page's width; ScrollWidth how wide its content is (wider: the page
	// scrolls sideways). Right is the right edge of the element reaching furthest right,
	// Widest names it (what sits in a table or a pre, which scroll on their own, is left out).
	Viewport    float64 `json:"viewport"`
	ScrollWidth float64 `json:"scrollWidth"`
	Right       float64 `json:"right"`
	Widest      string  `json:"widest"`
	// PlotWidths are the drawn widths of the plots, in page order.
	PlotWidths []float64 `json:"plotWidths"`
	// RaceLegend are the race-window plot's legend entries.
	RaceLegend []string `json:"raceLegend"`
}

const layoutScript = `
const out = {about: {}, plotWidths: [], raceLegend: []};
out.h1 = (document.querySelector('h1') || {}).textContent || '';
document.querySelectorAll('dl.about dt').forEach(dt => { out.about[dt.textContent] = dt.nextElementSibling.textContent; });
const v = document.getElementById('verdict');
out.verdictText = v ? v.querySelector('strong').textContent : '';
out.verdictBorder = v ? getComputedStyle(v).borderTopColor : '';
out.viewport = document.documentElement.clientWidth;
out.scrollWidth = document.documentElement.scrollWidth;
out.right = 0; out.widest = '';
document.querySelectorAll('body *').forEach(e => {
  if (e.parentElement && e.parentElement.closest('table, pre')) return;
  const r = e.getBoundingClientRect();
  if (r.right > out.right) { out.right = r.right; out.widest = e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''); }
});
document.querySelectorAll('.plot svg').forEach(s => out.plotWidths.push(s.getBoundingClientRect().width));
document.querySelectorAll('#race-window .legend > span').forEach(s => out.raceLegend.push(s.textContent));
const p = document.createElement('pre'); p.id = 'gatecrash-probe'; p.textContent = JSON.stringify(out);
document.body.appendChild(p);
`

// LayOutReport opens a gatecrash HTML report in a real headless Chromium, width pixels wide,
// and returns what it laid out (through Probe).
func LayOutReport(t testing.TB, page string, width int) ReportLayout {
	t.Helper()
	var l ReportLayout
	if err := json.Unmarshal([]byte(Probe(t, page, width, 1000, layoutScript)), &l); err != nil {
		t.Fatalf("reading the layout probe: %v", err)
	}
	return l
}
