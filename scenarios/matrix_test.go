package scenarios

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/proxy"
)

// The matrix over the embedded proxy: cells with outcomes, an n/a with its reason, the fix
// column, pins that hold and one that does not.
func TestMatrixEmbedded(t *testing.T) {
	t.Parallel()
	m, err := RunMatrix(context.Background(), MatrixOptions{Proxies: []proxy.Kind{proxy.Embedded},
		Scenarios: []string{"forced-race", "tls-stall"}, Budget: time.Second, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	post, get := m.Cell("forced-race", "post", proxy.Embedded), m.Cell("forced-race", "get", proxy.Embedded)
	if post == nil || post.Outcome != "502" || post.FirstError <= 0 || post.TopLog == "" || len(post.Classes) != 1 {
		t.Fatalf("forced-race/post: %+v", post)
	}
	if get == nil || get.Outcome != "ok (retried)" || get.Absorbed <= 0 {
		t.Fatalf("forced-race/get: %+v", get)
	}
	for _, sk := range m.Skipped {
		if sk.Proxy == "envoy" || sk.Proxy == "traefik" {
			t.Errorf("a matrix of the embedded proxy lists %s as skipped: nobody asked for it", sk.Proxy)
		}
	}
	if got := m.FixRemoved("forced-race", proxy.Embedded); !strings.HasPrefix(got, "yes (0 in ") {
		t.Fatalf("fix removed it: %q", got)
	}
	pins := []Pin{
		{Scenario: "forced-race", Variant: "post", Proxy: proxy.Embedded, Outcome: "502"},
		{Scenario: "forced-race", Variant: "get", Proxy: proxy.Embedded, Outcome: "ok (retried)"},
	}
	if diffs := m.CheckPins(pins); len(diffs) != 0 {
		t.Fatalf("pins that hold reported: %v", diffs)
	}
	pins = append(pins, Pin{Scenario: "forced-race", Variant: "keepalive-off", Proxy: proxy.Embedded, Outcome: "502"},
		Pin{Scenario: "forced-race", Variant: "post", Proxy: proxy.Nginx, Outcome: "502"})
	diffs := m.CheckPins(pins)
	if len(diffs) != 2 || !strings.Contains(diffs[0], `pinned "502", measured "ok"`) || !strings.Contains(diffs[1], "nginx was not run") {
		t.Fatalf("diffs: %q", diffs)
	}
	var md, page strings.Builder
	if err := m.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| forced-race / post | POST | 502 50% |", "| forced-race / keepalive-off (fix) | POST | ok |",
		"| embedded | Go ", "httputil.ReverseProxy"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	// The terminal gets the matrix at a glance.
	var sum strings.Builder
	if err := m.WriteSummary(&sum); err != nil || !regexp.MustCompile(`forced-race / post\s+POST\s+502 50%`).MatchString(sum.String()) {
		t.Errorf("summary: %v\n%s", err, sum.String())
	}
	// The whole matrix (no proxies named) lists the proxies it could not have, with why.
	m.Skipped = append(m.Skipped, NotInstallable...)
	md.Reset()
	if err := m.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| envoy | skipped: no Debian package", "traefik | skipped: "} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if !strings.Contains(page.String(), `<table id="summary">`) {
		t.Error("HTML has no summary table")
	}
}

// The matrix runs the proxies gatecrash starts; an external one is the user's.
func TestMatrixRefusesExternal(t *testing.T) {
	t.Parallel()
	_, err := RunMatrix(context.Background(), MatrixOptions{Proxies: []proxy.Kind{proxy.External}, Budget: time.Second})
	if err == nil || !strings.Contains(err.Error(), "external is yours") {
		t.Fatalf("err = %v", err)
	}
}
