package deploy

import (
	"bytes"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
)

// dockerfile returns the top-level Dockerfile's text.
func dockerfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var buildLine = regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*) -o /out/gatecrash (\./cmd/gatecrash)$`)

// buildLikeDockerfile runs the Dockerfile's own `go build` line (the version argument set to
// version) in the repository and returns the binary's path.
func buildLikeDockerfile(t *testing.T, version string) string {
	t.Helper()
	m := buildLine.FindStringSubmatch(dockerfile(t))
	if m == nil {
		t.Fatal("the Dockerfile has no `RUN CGO_ENABLED=0 go build ... -o /out/gatecrash ./cmd/gatecrash` line")
	}
	out := filepath.Join(t.TempDir(), "gatecrash")
	line := strings.ReplaceAll(m[1], "${VERSION}", version) + " -o " + out + " " + m[2]
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}
	return out
}

// TestDockerfileBuildsAStaticBinary: the Dockerfile's build line makes a binary with no
// dynamic loader and no shared libraries (it must run in a scratch image), stamped with the
// version it was given, and the image is built as the Dockerfile says it is.
func TestDockerfileBuildsAStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is a Linux one")
	}
	bin := buildLikeDockerfile(t, "v9.8.7-test")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("the binary is dynamically linked (%v): it will not run FROM scratch", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary needs %v", libs)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "gatecrash v9.8.7-test") {
		t.Fatalf("version: %v %q", err, out)
	}
	df := dockerfile(t)
	for _, want := range []string{"FROM scratch", "USER 65532:65532", `ENTRYPOINT ["gatecrash"]`, "-trimpath",
		"COPY --from=build /src/scenarios/library /usr/share/gatecrash/scenarios"} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}

// finalStage rewrites the Dockerfile's final stage to copy from a local build context: what
// `COPY --from=build SRC DST` takes from the build stage, the test puts in the context.
func finalStage(t *testing.T, ctx, bin string) string {
	t.Helper()
	df := dockerfile(t)
	i := strings.LastIndex(df, "\nFROM ")
	if i < 0 {
		t.Fatal("no final stage in the Dockerfile")
	}
	var out []string
	copyFrom := regexp.MustCompile(`^COPY --from=build ((?:--chown=\S+ )?)(\S+) (\S+)$`)
	for _, line := range strings.Split(df[i+1:], "\n") {
		m := copyFrom.FindStringSubmatch(line)
		if m == nil {
			out = append(out, line)
			continue
		}
		chown, src, dst := m[1], m[2], m[3]
		local := filepath.Join(ctx, strings.ReplaceAll(strings.Trim(src, "/"), "/", "_"))
		switch src {
		case "/out/gatecrash":
			copyFile(t, bin, local, 0o755)
		case "/etc/ssl/certs/ca-certificates.crt":
			os.WriteFile(local, nil, 0o644) // its content does not matter here
		case "/src/scenarios/library":
			if err := os.CopyFS(local, os.DirFS("../scenarios/library")); err != nil {
				t.Fatal(err)
			}
		case "/out/work", "/out/tmp":
			os.Mkdir(local, 0o1777)
			os.Chmod(local, 0o1777)
		default:
			t.Fatalf("the test does not know what the build stage puts at %s: teach it", src)
		}
		out = append(out, fmt.Sprintf("COPY %s%s %s", chown, filepath.Base(local), dst))
	}
	return strings.Join(out, "\n")
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestImageRunsServeAndLoad builds the final stage FROM scratch around the binary the
// Dockerfile's build line makes (no registry here: nothing is pulled) and runs it with podman:
// `version`, then `serve` and `load` in two containers against each other.
func TestImageRunsServeAndLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image")
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		e2e.Require(t, fmt.Errorf("podman not installed (apt-get install podman runc): %v", err))
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"runc\"\n"), 0o644)
	run := func(args ...string) (string, error) {
		c := exec.Command(podman, append([]string{"--runtime", "runc"}, args...)...)
		c.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
		var b bytes.Buffer
		c.Stdout, c.Stderr = &b, &b
		err := c.Run()
		return b.String(), err
	}
	bin := buildLikeDockerfile(t, "v0.0.0-image-test")
	ctx := filepath.Join(dir, "context")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(finalStage(t, ctx, bin)), 0o644)
	tag := fmt.Sprintf("localhost/gatecrash-test:%d", os.Getpid())
	if out, err := run("build", "-q", "-t", tag, ctx); err != nil {
		t.Fatalf("podman build: %v\n%s", err, out)
	}
	t.Cleanup(func() { run("rmi", "-f", tag) })

	if out, err := run("run", "--rm", "--network", "host", tag, "version"); err != nil || !strings.Contains(out, "v0.0.0-image-test") {
		t.Fatalf("version in the image: %v\n%s", err, out)
	}
	if out, err := run("run", "--rm", "--network", "host", tag, "scenarios", "list"); err != nil ||
		!strings.Contains(out, "keepalive-race") {
		t.Fatalf("scenarios in the image: %v\n%s", err, out)
	}
	addr, err := proxy.FreeListenAddr() // below the ephemeral range: no client connection takes it meanwhile
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("gatecrash-test-serve-%d", os.Getpid())
	if out, err := run("run", "-d", "--name", name, "--network", "host", tag, "serve", "--listen", addr, "--admin", "",
		"--fault", "status:code=502,every=10"); err != nil {
		t.Fatalf("serve in a container: %v\n%s", err, out)
	}
	t.Cleanup(func() { run("rm", "-f", name) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			logs, _ := run("logs", name)
			t.Fatalf("serve in its container not listening on %s:\n%s", addr, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := run("run", "--rm", "--network", "host", tag, "load", "http://"+addr+"/", "--requests", "1000", "--connections", "4", "-q",
		"--out", "/work/r.json", "--hlog", "/work/r.hlog")
	if err != nil || !strings.Contains(out, "requests 1,000") || !regexp.MustCompile(`502\s+100\s`).MatchString(out) {
		t.Fatalf("load in a container against serve in another, --out into /work: %v\n%s", err, out)
	}
	// A named volume on /work (what compose's load services and a soak's results use) takes
	// the image directory's owner: the non-root user writes there, and a second container
	// reads what the first wrote.
	vol := fmt.Sprintf("gatecrash-test-vol-%d", os.Getpid())
	t.Cleanup(func() { run("volume", "rm", "-f", vol) })
	if out, err := run("run", "--rm", "--network", "host", "-v", vol+":/work", tag, "load", "http://"+addr+"/", "--requests", "200",
		"--connections", "2", "-q", "--out", "/work/soak.json"); err != nil {
		t.Fatalf("load --out into a named volume: %v\n%s", err, out)
	}
	if out, err := run("run", "--rm", "-v", vol+":/work", tag, "report", "/work/soak.json"); err != nil || !strings.Contains(out, "requests 200") {
		t.Fatalf("report of the result in the named volume: %v\n%s", err, out)
	}
	// /tmp is writable too (a proxy's temp files, Go's os.TempDir).
	if out, err := run("run", "--rm", tag, "merge", "/usr/share/gatecrash/scenarios/keepalive-race.yaml", "--out", "/tmp/x.json"); err == nil ||
		strings.Contains(out, "permission denied") {
		t.Fatalf("merge into /tmp (expected a refusal of the input, not of /tmp): %v\n%s", err, out)
	}
}
