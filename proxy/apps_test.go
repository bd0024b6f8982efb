//go:build unix

package proxy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/results"
)

// Each app server starts from its app file, answers GET and POST, and stops with its whole
// process group (gunicorn's workers included).
func TestAppServersServeAndStop(t *testing.T) {
	for _, k := range AppKinds() {
		t.Run(string(k), func(t *testing.T) {
			e2e.Need(t, k)
			dir := t.TempDir()
			app, err := StartApp(context.Background(), AppConfig{Kind: k, Listen: freeAddr(t), RunDir: dir,
				Vars: map[string]string{"idle_timeout": "2s"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { app.Stop() })
			for _, m := range []string{"GET", "POST"} {
				res := load(t, app.URL()+"/", m, 20)
				if res.Count(results.OK) != 20 {
					t.Fatalf("%s to %s: %d of 20 ok", m, k, res.Count(results.OK))
				}
			}
			pgid := appPgid(t, app)
			if err := app.Stop(); err != nil {
				t.Fatal(err)
			}
			if left := groupMembers(pgid); len(left) > 0 {
				t.Errorf("process group %d still has processes %v after Stop", pgid, left)
			}
			if _, err := os.Stat(filepath.Join(dir, appDefs[k].confName)); err != nil {
				t.Errorf("the app file is not in the run folder: %v", err)
			}
		})
	}
}

func appPgid(t *testing.T, p Proxy) int {
	t.Helper()
	ep, ok := p.(*execProxy)
	if !ok {
		t.Fatalf("%T is not a process", p)
	}
	return ep.cmd.Process.Pid
}

func TestAppVarsAreChecked(t *testing.T) {
	for _, c := range []struct {
		kind AppKind
		vars map[string]string
		want string
	}{
		{Uvicorn, map[string]string{"idle_timeout": "1500ms"}, "uvicorn takes whole seconds"},
		{Gunicorn, map[string]string{"worker_class": "gevent"}, "allowed: sync"},
		{Node, map[string]string{"workers": "2"}, "not read by node; it reads: idle_timeout"},
		{Node, map[string]string{"idle_timeout": "banana"}, "idle_timeout"},
	} {
		err := CheckAppVars(c.kind, c.vars)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v; want it to say %q", c.kind, c.vars, err, c.want)
		}
	}
	if err := CheckAppVars(Node, map[string]string{"idle_timeout": "1500ms"}); err != nil {
		t.Error(err)
	}
}

// An interpreter without the server says what to install, not "exit status 1".
func TestFindAppSaysWhatToInstall(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	bin := filepath.Join(t.TempDir(), "python3")
	// A python3 that has no uvicorn: the real one with an empty module path.
	script := "#!/bin/sh\nexec " + py + " -S -I \"$@\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = FindApp(Uvicorn, bin)
	if !errors.Is(err, ErrBinaryNotFound) || !strings.Contains(err.Error(), "apt-get install python3-uvicorn") {
		t.Fatalf("FindApp with a python3 that lacks uvicorn: %v", err)
	}
	if _, err := FindApp(Node, "/nonexistent/node"); !errors.Is(err, ErrBinaryNotFound) {
		t.Fatalf("missing node: %v", err)
	}
}
