package results

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteHTML(&b, goldenPair(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<table>", `id="latency-ok"`, `id="latency-502"`, `id="timeline-0"`, "<svg", "99%",
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
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("GATECRASH_E2E") == "require" {
			t.Fatalf("GATECRASH_E2E=require: chromium not installed: %v", err)
		}
		t.Skip("chromium not installed (apt-get install chromium); skipping the browser test")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := WriteHTML(&b, goldenPair(t)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(page, b.Bytes(), 0o644)
	shot := filepath.Join(dir, "shot.png")
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--hide-scrollbars", "--window-size=1200,2600",
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
	// The first table (dark text on white) sits in the top 500 px; the plots further down
	// draw the results' colours.
	if n := countPixels(img, image.Rect(0, 100, 1200, 500), func(r, g, b uint32) bool { return r+g+b < 3*0x6000 }); n < 500 {
		t.Fatalf("only %d dark pixels where the summary table should be", n)
	}
	blue := func(r, g, b uint32) bool { return near8(r, 0x1f) && near8(g, 0x77) && near8(b, 0xb4) }
	red := func(r, g, b uint32) bool { return near8(r, 0xd6) && near8(g, 0x27) && near8(b, 0x28) }
	below := image.Rect(0, 900, 1200, 2600)
	if nb, nr := countPixels(img, below, blue), countPixels(img, below, red); nb < 200 || nr < 200 {
		t.Fatalf("plot lines missing: %d blue and %d red pixels below the tables", nb, nr)
	}
}

func near8(v uint32, want uint8) bool {
	d := int(v>>8) - int(want)
	return d > -40 && d < 40
}

func countPixels(img image.Image, r image.Rectangle, match func(r, g, b uint32) bool) int {
	n := 0
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if match(cr, cg, cb) {
				n++
			}
		}
	}
	return n
}
