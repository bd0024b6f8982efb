package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/scenarios"
)

// TestComposeNginxConfigsAreRendered: the nginx configs docker-compose mounts are exactly what
// gatecrash's templates render for the keepalive-race variants (make compose-config writes
// them), so they never drift into a hand-written copy.
func TestComposeNginxConfigsAreRendered(t *testing.T) {
	sc, err := scenarios.Load("keepalive-race")
	if err != nil {
		t.Fatal(err)
	}
	compose := readCompose(t, "../docker-compose.yml")
	for _, v := range []string{"default", "fixed"} {
		want, err := sc.RenderProxy(v, proxy.Nginx, []string{"origin:9001"}, "0.0.0.0:8080", "/tmp", "/var/log/nginx")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("compose", "nginx-"+v+".conf")
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s differs from what the templates render for keepalive-race/%s: run make compose-config", path, v)
		}
		svc := compose.Services["nginx-"+v]
		if len(svc.Volumes) != 1 || !strings.HasPrefix(svc.Volumes[0], "./deploy/"+path+":") {
			t.Errorf("service nginx-%s does not mount %s: %v", v, path, svc.Volumes)
		}
	}
}

type composeFile struct {
	Services map[string]struct {
		Image   string   `yaml:"image"`
		Build   any      `yaml:"build"`
		Command []string `yaml:"command"`
		Volumes []string `yaml:"volumes"`
	} `yaml:"services"`
}

func readCompose(t *testing.T, path string) composeFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// checkCommand runs the gatecrash binary with args and --help: cobra refuses an unknown command
// or flag before it prints the help, so a renamed flag fails here.
func checkCommand(t *testing.T, bin, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no command", where)
		return
	}
	out, err := exec.Command(bin, append(append([]string{}, args...), "--help")...).CombinedOutput()
	if err != nil {
		t.Errorf("%s: gatecrash %s: %v\n%s", where, strings.Join(args, " "), err, out)
		return
	}
	// An unknown command with --help prints the top-level help: the usage must be the command's.
	if !strings.Contains(string(out), "Usage:\n  gatecrash "+args[0]+" ") {
		t.Errorf("%s: gatecrash has no command %q", where, args[0])
	}
}

// TestComposeCommandsExist: every gatecrash service's command and flags exist in the CLI.
func TestComposeCommandsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildLikeDockerfile(t, "compose-test")
	c := readCompose(t, "../docker-compose.yml")
	n := 0
	for name, s := range c.Services {
		if !strings.HasPrefix(s.Image, "gatecrash") {
			continue
		}
		n++
		checkCommand(t, bin, "docker-compose.yml service "+name, s.Command)
	}
	if n < 7 {
		t.Fatalf("%d gatecrash services in docker-compose.yml, want origin, two loads and report, and the relay profile's relay, load and report", n)
	}
}

// TestComposeLoadsAndOriginAreTheScenarios: the compose file's origin serves the
// keepalive-race scenario's fault, and each load service sends the scenario's load at its
// variant's nginx — so the laptop run is the scenario, not a look-alike.
func TestComposeLoadsAndOriginAreTheScenarios(t *testing.T) {
	sc, err := scenarios.Load("keepalive-race")
	if err != nil {
		t.Fatal(err)
	}
	c := readCompose(t, "../docker-compose.yml")
	flags := func(args []string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(args); i++ {
			if strings.HasPrefix(args[i], "--") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				m[args[i]] = args[i+1]
				i++
			}
		}
		return m
	}
	origin := flags(c.Services["origin"].Command)
	f, err := faultserver.ParseFaultSpec(origin["--fault"])
	if err != nil {
		t.Fatal(err)
	}
	want, _ := yaml.Marshal(sc.Variants[0].Origin.Config.Faults)
	got, _ := yaml.Marshal([]faultserver.Fault{f})
	if string(got) != string(want) {
		t.Errorf("the compose origin serves\n%s\nthe scenario's origin\n%s", got, want)
	}
	// The laptop run is the race and its idle-window fix; the scenario's other fixes
	// (keepalive-off, retry) are the matrix's to show.
	var composed []*scenarios.Variant
	for _, v := range sc.Variants {
		if v.Name == "default" || v.Name == "fixed" {
			composed = append(composed, v)
		}
	}
	if len(composed) != 2 {
		t.Fatalf("keepalive-race has no default and fixed variants: %d of them", len(composed))
	}
	for _, v := range composed {
		svc, ok := c.Services["load-"+v.Name]
		if !ok {
			t.Errorf("no load service for variant %s", v.Name)
			continue
		}
		l := v.Load
		m := flags(svc.Command)
		for flag, want := range map[string]string{
			"--method": l.Method, "--body-size": fmt.Sprint(l.BodySize), "--pattern": string(l.Pattern),
			"--gap-center": l.GapCenter.D().String(), "--gap-spread": l.GapSpread.D().String(),
			"--connections": fmt.Sprint(l.Connections), "--duration": l.Duration.D().String(),
		} {
			if m[flag] != want {
				t.Errorf("service load-%s: %s %q, the scenario's %q", v.Name, flag, m[flag], want)
			}
		}
		if len(svc.Command) < 2 || svc.Command[1] != "http://nginx-"+v.Name+":8080/" {
			t.Errorf("service load-%s does not load nginx-%s: %v", v.Name, v.Name, svc.Command)
		}
	}
}

// TestComposeRelayProfileIsTheScenario: the relay profile is the relay-app scenario with the
// app swapped for a real one the user can replace: the relay relays to the app service and
// injects the scenario's fault, nginx's config is what the templates render for the
// scenario (pointed at the relay), and the load is the scenario's.
func TestComposeRelayProfileIsTheScenario(t *testing.T) {
	sc, err := scenarios.Load("relay-app")
	if err != nil {
		t.Fatal(err)
	}
	v := sc.Variants[0]
	c := readCompose(t, "../docker-compose.yml")
	want, err := sc.RenderProxy(v.Name, proxy.Nginx, []string{"relay:9001"}, "0.0.0.0:8080", "/tmp", "/var/log/nginx")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("compose/nginx-relay.conf"); err != nil || string(got) != want {
		t.Errorf("compose/nginx-relay.conf differs from what the templates render for relay-app/%s (%v): run make compose-config", v.Name, err)
	}
	flags := func(args []string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(args); i++ {
			if strings.HasPrefix(args[i], "--") {
				m[args[i]] = args[i+1]
			}
		}
		return m
	}
	relay := flags(c.Services["relay"].Command)
	if relay["--upstream"] != "http://app:8000" || !strings.Contains(strings.Join(c.Services["app"].Command, " "), "listen(8000)") {
		t.Errorf("the relay does not relay to the app service: --upstream %q, app %v", relay["--upstream"], c.Services["app"].Command)
	}
	f, err := faultserver.ParseFaultSpec(relay["--fault"])
	if err != nil {
		t.Fatal(err)
	}
	wantF, _ := yaml.Marshal(v.Origin.Config.Faults)
	gotF, _ := yaml.Marshal([]faultserver.Fault{f})
	if string(gotF) != string(wantF) {
		t.Errorf("the compose relay injects\n%s\nthe scenario's relay\n%s", gotF, wantF)
	}
	l, m := v.Load, flags(c.Services["load-relay"].Command)
	for flag, want := range map[string]string{
		"--method": l.Method, "--body-size": fmt.Sprint(l.BodySize), "--pattern": string(l.Pattern),
		"--rate": fmt.Sprint(l.Rate), "--connections": fmt.Sprint(l.Connections), "--duration": l.Duration.D().String(),
		"--origin-admin": "http://relay:9002",
	} {
		if m[flag] != want {
			t.Errorf("service load-relay: %s %q, want %q", flag, m[flag], want)
		}
	}
}
