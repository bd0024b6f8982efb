package e2e

import (
	"html"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Screenshot renders the HTML file page in a real headless Chromium at width×height and
// returns the picture. It skips without Chromium (fails under GATECRASH_E2E=require), and
// fails the test when the page wrote to the console.
func Screenshot(t testing.TB, page string, width, height int) image.Image {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	Require(t, err)
	dir := t.TempDir()
	shot := filepath.Join(dir, "shot.png")
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--hide-scrollbars",
		"--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height),
		"--enable-logging=stderr", "--v=0", "--screenshot="+shot, "file://"+page)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "CONSOLE") || strings.Contains(string(out), "Uncaught") {
		t.Fatalf("console messages while rendering:\n%s", out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Pixels returns the points in r whose colour matches.
func Pixels(img image.Image, r image.Rectangle, match func(r, g, b uint8) bool) []image.Point {
	var out []image.Point
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if match(uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)) {
				out = append(out, image.Point{X: x, Y: y})
			}
		}
	}
	return out
}

// Near returns a matcher for colours within 40 of (r, g, b) in each channel.
func Near(r, g, b uint8) func(r, g, b uint8) bool {
	near := func(v, want uint8) bool { d := int(v) - int(want); return d > -40 && d < 40 }
	return func(cr, cg, cb uint8) bool { return near(cr, r) && near(cg, g) && near(cb, b) }
}

// Probe opens the HTML file page in a real headless Chromium at width×height with script
// appended to it, and returns what the script left as the text of an element with id
// "gatecrash-probe" (the script creates it). It reads the page as laid out — computed styles,
// element boxes — where a screenshot would only show pixels. It skips without Chromium
// (fails under GATECRASH_E2E=require).
func Probe(t testing.TB, page string, width, height int, script string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	Require(t, err)
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	probed := filepath.Join(dir, "probed.html")
	body := strings.Replace(string(src), "</body>", "<script>"+script+"</script></body>", 1)
	if err := os.WriteFile(probed, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--hide-scrollbars",
		"--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height), "--dump-dom", "file://"+probed)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)
	const open = `id="gatecrash-probe">`
	i := strings.Index(dom, open)
	if i < 0 {
		t.Fatalf("the probe script left no #gatecrash-probe element (a script error?):\n%s", stderr.String())
	}
	rest := dom[i+len(open):]
	j := strings.Index(rest, "</")
	if j < 0 {
		t.Fatal("#gatecrash-probe not closed")
	}
	return html.UnescapeString(rest[:j])
}

// VerticalLine returns the leftmost x in r where at least n pixels match — a vertical line
// drawn in that colour, such as a plot's marker — or -1 when there is none.
func VerticalLine(img image.Image, r image.Rectangle, n int, match func(r, g, b uint8) bool) int {
	cols := map[int]int{}
	for _, p := range Pixels(img, r, match) {
		cols[p.X]++
	}
	x := -1
	for cx, k := range cols {
		if k >= n && (x < 0 || cx < x) {
			x = cx
		}
	}
	return x
}

// Black matches near-black pixels.
func Black(r, g, b uint8) bool { return r < 40 && g < 40 && b < 40 }
