package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

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
	if n < 4 {
		t.Fatalf("%d gatecrash services in docker-compose.yml, want origin, two loads and report", n)
	}
}
