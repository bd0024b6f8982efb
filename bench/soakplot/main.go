// Command soakplot draws the soak benchmark's samples (bench/soak.sh's CSV) as one PNG —
// RSS, heap, goroutines and open fds of each gatecrash process over time — and prints a
// markdown table of each process's figures at the start, at 10% of the requests and at the
// end, with the RSS and heap slopes over the second half of its run (after warm-up).
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"image/color"
	"io"
	"os"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

type sample struct {
	t                   float64 // seconds since the part started
	rss, heap, gor, fds float64
	requests            float64
}

type series struct {
	name    string // "part: role"
	samples []sample
}

func main() {
	in := flag.String("csv", "bench/out/soak.csv", "samples from bench/soak.sh")
	png := flag.String("png", "docs/soak.png", "image to write")
	flag.Parse()
	all, err := read(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soakplot:", err)
		os.Exit(1)
	}
	if err := draw4(all, *png); err != nil {
		fmt.Fprintln(os.Stderr, "soakplot:", err)
		os.Exit(1)
	}
	table(os.Stdout, all)
}

func read(path string) ([]*series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: no samples", path)
	}
	byName := map[string]*series{}
	var out []*series
	for i, r := range rows[1:] {
		if len(r) != 9 {
			return nil, fmt.Errorf("%s:%d: %d fields, want 9", path, i+2, len(r))
		}
		var v [7]float64
		for j, k := range []int{0, 4, 5, 6, 7, 8} {
			if v[j], err = strconv.ParseFloat(r[k], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: field %d: %w", path, i+2, k+1, err)
			}
		}
		name := r[1] + ": " + r[2]
		s := byName[name]
		if s == nil {
			s = &series{name: name}
			byName[name] = s
			out = append(out, s)
		}
		s.samples = append(s.samples, sample{t: v[0], rss: v[1], heap: v[2], gor: v[3], fds: v[4], requests: v[5]})
	}
	return out, nil
}

var colors = []color.Color{color.RGBA{0x1f, 0x77, 0xb4, 255}, color.RGBA{0xd6, 0x27, 0x28, 255}, color.RGBA{0x2c, 0xa0, 0x2c, 255}, color.RGBA{0x94, 0x67, 0xbd, 255}}

// draw4 draws four panels stacked: RSS (MiB), heap (MiB), goroutines, open fds.
func draw4(all []*series, path string) error {
	panels := []struct {
		title, unit string
		get         func(sample) float64
	}{
		{"resident memory", "MiB", func(s sample) float64 { return s.rss / (1 << 20) }},
		{"heap in objects", "MiB", func(s sample) float64 { return s.heap / (1 << 20) }},
		{"goroutines", "", func(s sample) float64 { return s.gor }},
		{"open file descriptors", "", func(s sample) float64 { return s.fds }},
	}
	const w, h = 9 * vg.Inch, 11 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter, PadY: 3 * vg.Millimeter, PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter}
	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "seconds into the part"
		p.Y.Label.Text = pn.unit
		p.Y.Min = 0
		p.Legend.Top, p.Legend.Left = false, true
		p.Legend.YOffs = -vg.Millimeter
		for j, s := range all {
			pts := make(plotter.XYs, len(s.samples))
			for k, smp := range s.samples {
				pts[k].X, pts[k].Y = smp.t, pn.get(smp)
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return err
			}
			l.Color = colors[j%len(colors)]
			l.Width = vg.Points(1.5)
			p.Add(l)
			if i == 0 {
				p.Legend.Add(s.name, l)
			}
		}
		p.Add(plotter.NewGrid())
		plots[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// slope fits y = a + b·t by least squares over the samples and returns b per minute.
func slope(ss []sample, get func(sample) float64) float64 {
	if len(ss) < 2 {
		return 0
	}
	var st, sy, stt, sty float64
	for _, s := range ss {
		t, y := s.t/60, get(s)
		st, sy, stt, sty = st+t, sy+y, stt+t*t, sty+t*y
	}
	n := float64(len(ss))
	d := n*stt - st*st
	if d == 0 {
		return 0
	}
	return (n*sty - st*sy) / d
}

func table(w io.Writer, all []*series) {
	fmt.Fprintln(w, "| process | requests | RSS first / at 10% / last (MiB) | peak RSS | RSS slope, 2nd half | heap slope, 2nd half | goroutines min–max | open fds min–max |")
	fmt.Fprintln(w, "|---|--:|---|--:|--:|--:|--:|--:|")
	for _, s := range all {
		ss := s.samples
		last := ss[len(ss)-1]
		at10 := ss[0]
		for _, x := range ss {
			if x.requests >= last.requests/10 {
				at10 = x
				break
			}
		}
		half := ss[len(ss)/2:]
		gor := make([]float64, len(ss))
		fds := make([]float64, len(ss))
		peak := 0.0
		for i, x := range ss {
			gor[i], fds[i] = x.gor, x.fds
			peak = max(peak, x.rss)
		}
		sort.Float64s(gor)
		sort.Float64s(fds)
		mib := func(b float64) string { return fmt.Sprintf("%.1f", b/(1<<20)) }
		fmt.Fprintf(w, "| %s | %.0f | %s / %s / %s | %s | %+.3f MiB/min | %+.3f MiB/min | %.0f–%.0f | %.0f–%.0f |\n", s.name, last.requests,
			mib(ss[0].rss), mib(at10.rss), mib(last.rss), mib(peak),
			slope(half, func(x sample) float64 { return x.rss / (1 << 20) }), slope(half, func(x sample) float64 { return x.heap / (1 << 20) }),
			gor[0], gor[len(gor)-1], fds[0], fds[len(fds)-1])
	}
}
