//go:build unix

package proxy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/faultserver/faultservertest"
	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/results"
)

func startOrigin(t *testing.T, tlsToo bool, specs ...string) (*faultserver.Server, string) {
	t.Helper()
	if tlsToo {
		return faultservertest.OriginTLS(t, specs...)
	}
	return faultservertest.Origin(t, specs...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := FreeListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func load(t *testing.T, url, method string, n int64) *results.Result {
	t.Helper()
	res, err := loadgen.Run(context.Background(), loadgen.Config{URL: url, Method: method, BodySize: 10, Connections: 1,
		Requests: n, Timeout: yamlconf.Duration(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestEveryKindForwardsAndStopsClean(t *testing.T) {
	t.Parallel()
	for _, k := range []Kind{Embedded, Nginx, HAProxy, Caddy, Apache, Varnish, TrafficServer, Nghttpx, NodeGateway} {
		for _, originTLS := range []bool{false, true} {
			if ok, _ := SupportsOriginTLS(k); originTLS && !ok {
				continue // TestNoOriginTLSIsSaid
			}
			name := string(k)
			if originTLS {
				name += "/tls-origin"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e2e.Need(t, k)
				o, oaddr := startOrigin(t, originTLS)
				runDir := t.TempDir()
				p, err := Start(context.Background(), Config{Spec: Spec{Kind: k},
					Origins: []string{oaddr}, OriginTLS: originTLS, Listen: freeAddr(t), RunDir: runDir})
				if err != nil {
					t.Fatal(err)
				}
				stopped := false
				defer func() {
					if !stopped {
						p.Stop()
					}
				}()
				res := load(t, p.URL()+"/x", "POST", 5)
				if res.Count(results.OK) != 5 {
					logs, _ := os.ReadFile(filepath.Join(runDir, "error.log"))
					out, _ := os.ReadFile(filepath.Join(runDir, "stdout.log"))
					t.Fatalf("through %s: %v\nerror.log:\n%s\nstdout.log:\n%s", k, res.Exemplars, logs, out)
				}
				if o.Stats().RequestsRead != 5 {
					t.Fatalf("origin read %d requests", o.Stats().RequestsRead)
				}
				var pids []int
				var pgid int
				var tmp string
				if ep, ok := p.(*execProxy); ok {
					pgid, tmp = ep.cmd.Process.Pid, ep.dir
					pids = groupMembers(pgid)
					if len(pids) == 0 {
						t.Fatal("no process in the proxy's process group while it runs")
					}
					// The private temp folder sits in a shared /tmp while the proxy may run as
					// root: no one else may read it or plant files in it.
					if st, err := os.Stat(tmp); err != nil || st.Mode().Perm() != 0o700 {
						t.Fatalf("temp folder %s: mode %v, %v; want 0700", tmp, st.Mode().Perm(), err)
					}
				}
				if err := p.Stop(); err != nil {
					t.Fatal(err)
				}
				stopped = true
				if err := p.Stop(); err != nil {
					t.Fatalf("second Stop: %v", err)
				}
				// A zombie is not alive: Traffic Server's traffic_crashlog outlives its master,
				// and PID 1 may take a second or more to reap it (it did in CI).
				if len(pids) > 0 {
					if left := groupMembers(pgid); len(left) > 0 {
						t.Fatalf("processes %v (of %v) still alive after Stop", left, pids)
					}
				}
				if tmp != "" {
					if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("temp dir %s left behind (%v)", tmp, err)
					}
					if _, err := os.Stat(filepath.Join(runDir, "stdout.log")); err != nil {
						t.Fatalf("proxy output not captured in the run folder: %v", err)
					}
				}
			})
		}
	}
}

// A kind that cannot reach a TLS origin says so rather than talking plain HTTP to it.
func TestNoOriginTLSIsSaid(t *testing.T) {
	t.Parallel()
	e2e.Need(t, Varnish)
	_, err := Start(context.Background(), Config{Spec: Spec{Kind: Varnish}, Origins: []string{"127.0.0.1:1"}, OriginTLS: true,
		Listen: freeAddr(t), RunDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "varnish cannot connect to a TLS origin: open-source Varnish has no backend TLS") {
		t.Fatalf("err = %v", err)
	}
}

func TestUserTemplate(t *testing.T) {
	t.Parallel()
	e2e.Need(t, Nginx)
	_, oaddr := startOrigin(t, false)
	dir := t.TempDir()
	src, err := templateFS.ReadFile("templates/nginx.conf.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, "mine.tmpl")
	os.WriteFile(mine, append([]byte("# my own template, {{var \"marker\" \"unset\"}}\n"), src...), 0o644)
	runDir := filepath.Join(dir, "run")
	p, err := Start(context.Background(), Config{Spec: Spec{Kind: Nginx, Template: mine, Vars: map[string]string{"marker": "mine-42"}},
		Origins: []string{oaddr}, Listen: freeAddr(t), RunDir: runDir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	conf, _ := os.ReadFile(filepath.Join(runDir, "nginx.conf"))
	if !strings.HasPrefix(string(conf), "# my own template, mine-42\n") {
		t.Fatalf("rendered config does not come from the user's template:\n%.200s", conf)
	}
	if res := load(t, p.URL()+"/", "GET", 3); res.Count(results.OK) != 3 {
		t.Fatalf("%v", res.Outcomes)
	}

	broken := filepath.Join(dir, "broken.tmpl")
	os.WriteFile(broken, []byte("listen {{.Nope}};\n"), 0o644)
	_, err = Start(context.Background(), Config{Spec: Spec{Kind: Nginx, Template: broken}, Origins: []string{oaddr}, Listen: freeAddr(t)})
	if err == nil || !strings.Contains(err.Error(), broken) || !strings.Contains(err.Error(), "Nope") {
		t.Fatalf("broken template: %v", err)
	}
}

// Every kind spreads requests over origin replicas, or refuses them saying why — it never
// quietly sends everything to the first.
func TestReplicasAreBalanced(t *testing.T) {
	t.Parallel()
	for _, k := range Kinds() {
		if k == External {
			continue
		}
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			e2e.Need(t, k)
			var origins []*faultserver.Server
			var addrs []string
			for range 3 {
				o, a := startOrigin(t, false)
				origins, addrs = append(origins, o), append(addrs, a)
			}
			runDir := t.TempDir()
			p, err := Start(context.Background(), Config{Spec: Spec{Kind: k}, Origins: addrs, Listen: freeAddr(t), RunDir: runDir})
			if ok, why := BalancesOrigins(k); !ok {
				if err == nil {
					p.Stop()
				}
				if err == nil || !strings.Contains(err.Error(), "cannot spread requests over 3 origins: "+why) {
					t.Fatalf("%s does not balance, but Start said %v", k, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Stop()
			if res := load(t, p.URL()+"/", "GET", 30); res.Count(results.OK) != 30 {
				t.Fatalf("%v", res.Outcomes)
			}
			for i, o := range origins {
				if n := o.Stats().RequestsRead; n == 0 {
					t.Fatalf("origin %d got no request of 30: not balanced", i)
				}
			}
		})
	}
}

func TestUnknownVariableIsRejected(t *testing.T) {
	t.Parallel()
	_, err := Start(context.Background(), Config{Spec: Spec{Kind: Embedded, Vars: map[string]string{"idle_timout": "1s"}},
		Origins: []string{"127.0.0.1:1"}, Listen: freeAddr(t)})
	if err == nil || !strings.Contains(err.Error(), "proxy.vars.idle_timout: not read by any built-in template; known: ") {
		t.Fatalf("err = %v", err)
	}
}

// TestFindBinaryMakesRelativePathsAbsolute: --proxy-binary ./nginx names a file in the
// working directory; the proxy starts in its own run folder, where ./nginx is nothing (exit 1
// "no such file"), so the path is made absolute.
func TestFindBinaryMakesRelativePathsAbsolute(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mynginx"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	got, err := FindBinary(Nginx, "./mynginx")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "mynginx"); got != want {
		t.Fatalf("FindBinary(./mynginx) = %q, want %q", got, want)
	}
	if _, err := FindBinary(Nginx, "./nope"); !errors.Is(err, ErrBinaryNotFound) {
		t.Fatalf("FindBinary(./nope) = %v", err)
	}
}

// The embedded proxy's retry_unsafe keeps a request's body so that Go's HTTP/2 transport may
// send it again: a POST whose stream the origin refuses (RST_STREAM REFUSED_STREAM, every
// 2nd stream) after the body went out is a 502 without it, and answered with it.
func TestEmbeddedRetryUnsafeReplaysRefusedH2Stream(t *testing.T) {
	t.Parallel()
	for _, retry := range []string{"off", "on"} {
		t.Run(retry, func(t *testing.T) {
			t.Parallel()
			_, oaddr, _ := faultservertest.OriginH2(t, "rst-stream:code=refused-stream,every=2")
			p, err := Start(context.Background(), Config{Spec: Spec{Kind: Embedded,
				Vars: map[string]string{"upstream_proto": "h2c", "retry_unsafe": retry}},
				Origins: []string{oaddr}, Listen: freeAddr(t), RunDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Stop()
			res := load(t, p.URL()+"/x", "POST", 6)
			ok, bad := res.Count(results.OK), res.Count(results.Status502)
			if retry == "on" && ok != 6 || retry == "off" && (ok != 3 || bad != 3) {
				t.Errorf("retry_unsafe %s: %d ok, %d 502 in 6 POSTs; want 6 ok with it, 3 and 3 without", retry, ok, bad)
			}
		})
	}
}
