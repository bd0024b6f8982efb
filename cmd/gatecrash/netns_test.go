//go:build linux

package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatecrash/gatecrash/internal/e2e"
	"github.com/gatecrash/gatecrash/proxy"
	"github.com/gatecrash/gatecrash/results"
)

// netnsLab is a small network of namespaces made for one test: a bridge in a "switch"
// namespace and one namespace per host, each with an eth0 on the bridge at 10.77.X.N/24. No
// address is ever set outside the namespaces, and Close deletes them all.
type netnsLab struct {
	t     *testing.T
	tag   string
	net   int
	hosts map[string]string // host → its address
}

func newNetnsLab(t *testing.T) *netnsLab {
	t.Helper()
	l := &netnsLab{t: t, tag: fmt.Sprintf("gc%d", os.Getpid()%100000), net: 77, hosts: map[string]string{}}
	if err := l.ip("netns", "add", l.ns("sw")); err != nil {
		e2e.Require(t, fmt.Errorf("network namespaces cannot be made here (root and iproute2 needed): %v", err))
	}
	t.Cleanup(l.close)
	for _, args := range [][]string{
		{"netns", "exec", l.ns("sw"), "ip", "link", "add", "br0", "type", "bridge"},
		{"netns", "exec", l.ns("sw"), "ip", "link", "set", "br0", "up"},
	} {
		if err := l.ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func (l *netnsLab) ns(host string) string { return l.tag + "-" + host }

func (l *netnsLab) ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// host adds a namespace on the bridge and returns its address.
func (l *netnsLab) host(name string) string {
	l.t.Helper()
	addr := fmt.Sprintf("10.%d.0.%d", l.net, len(l.hosts)+2)
	ns, sw := l.ns(name), l.ns("sw")
	port := fmt.Sprintf("p%d", len(l.hosts))
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"netns", "exec", sw, "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"netns", "exec", sw, "ip", "link", "set", port, "master", "br0", "up"},
		{"netns", "exec", ns, "ip", "addr", "add", addr + "/24", "dev", "eth0"},
		{"netns", "exec", ns, "ip", "link", "set", "eth0", "up"},
		{"netns", "exec", ns, "ip", "link", "set", "lo", "up"},
	} {
		if err := l.ip(args...); err != nil {
			l.t.Fatal(err)
		}
	}
	l.hosts[name] = addr
	return addr
}

// cmd runs name with args inside host's namespace, in a process group of its own (ip netns
// exec execs the command: the pid is the command's), so that stop ends it with its children.
func (l *netnsLab) cmd(host, name string, args ...string) *exec.Cmd {
	c := exec.Command("ip", append([]string{"netns", "exec", l.ns(host), name}, args...)...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.WaitDelay = 5 * time.Second // children holding its output pipes must not hang Wait
	return c
}

// stop ends a started command and everything in its process group.
func stop(c *exec.Cmd) {
	if c.Process != nil {
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		c.Wait()
	}
}

func (l *netnsLab) close() {
	for h := range l.hosts {
		if out, err := exec.Command("ip", "netns", "pids", l.ns(h)).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				exec.Command("kill", "-9", pid).Run()
			}
		}
		exec.Command("ip", "netns", "del", l.ns(h)).Run()
	}
	exec.Command("ip", "netns", "del", l.ns("sw")).Run()
}

// TestShardsAcrossHostsEqualOneRun is the multi-host test: the origin in one namespace, a real
// nginx in another, three load shards in three more, on one bridge. The shards' merged
// result equals one unsharded run at the full rate against the same setup: counts exact,
// histogram totals exact, rate within 2%.
func TestShardsAcrossHostsEqualOneRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	nginx, err := proxy.FindBinary(proxy.Nginx, "")
	e2e.Require(t, err)
	lab := newNetnsLab(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	originIP, proxyIP := lab.host("origin"), lab.host("proxy")
	loads := []string{"load0", "load1", "load2"}
	for _, h := range loads {
		lab.host(h)
	}

	origin := lab.cmd("origin", bin, "serve", "--listen", originIP+":9001", "--admin", originIP+":9002")
	var originLog bytes.Buffer
	origin.Stdout, origin.Stderr = &originLog, &originLog
	if err := origin.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop(origin)

	conf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi;
    uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
    upstream origin { server %[2]s:9001; keepalive 32; }
    server {
        listen %[3]s:8080;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
`, dir, originIP, proxyIP)), 0o644)
	ngx := lab.cmd("proxy", nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	var ngxLog bytes.Buffer
	ngx.Stdout, ngx.Stderr = &ngxLog, &ngxLog
	if err := ngx.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop(ngx)
	url := "http://" + proxyIP + ":8080/"
	// Every load host reaches the origin through nginx before the measured runs (and has its
	// neighbour entries, as machines that talk to a proxy do).
	deadline := time.Now().Add(10 * time.Second)
	for _, h := range loads {
		for lab.cmd(h, bin, "load", url, "--requests", "4", "--connections", "4", "-q").Run() != nil {
			if time.Now().After(deadline) {
				t.Fatalf("nginx in its namespace not answering %s through to the origin\nnginx: %s\norigin: %s", h, ngxLog.String(), originLog.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	const requests, rate, conns = 4500, 1500, 12
	common := []string{"load", url, "--pattern", "constant", "--requests", fmt.Sprint(requests), "--rate", fmt.Sprint(rate),
		"--connections", fmt.Sprint(conns), "-q"}
	var shards []*exec.Cmd
	var files []string
	for i, h := range loads {
		f := filepath.Join(dir, fmt.Sprintf("shard%d.json", i))
		files = append(files, f)
		c := lab.cmd(h, bin, append(common, "--shard", fmt.Sprintf("%d/3", i), "--run-id", "netns", "--out", f)...)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		shards = append(shards, c)
	}
	for i, c := range shards {
		if err := c.Wait(); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	merged := filepath.Join(dir, "merged.json")
	if out, err := exec.Command(bin, append([]string{"merge", "--out", merged}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("merge: %v\n%s", err, out)
	}
	whole := filepath.Join(dir, "whole.json")
	if out, err := lab.cmd("load0", bin, append(common, "--out", whole)...).CombinedOutput(); err != nil {
		t.Fatalf("unsharded run: %v\n%s", err, out)
	}
	m, err := results.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	w, err := results.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	// The shards start as three processes in three namespaces, a few tens of ms apart on a busy
	// machine: the merge spans all of them, and its rate over that span is lower by the skew.
	// Each shard's own rate is the schedule's; their sum is what one run of the whole achieves.
	var sumRate float64
	start, end := m.Start, m.End
	for i, f := range files {
		r, _ := results.ReadFile(f)
		if r.Target.Connections != 4 || r.Requests != requests/3 {
			t.Fatalf("shard %d: %d connections, %d requests; want 4 and %d", i, r.Target.Connections, r.Requests, requests/3)
		}
		sumRate += float64(r.Requests) / r.Duration().Seconds()
		if r.Start.Before(start) || r.End.After(end) {
			t.Errorf("shard %d ran %v..%v, outside the merge's span %v..%v", i, r.Start, r.End, start, end)
		}
	}
	if m.Requests != w.Requests || m.Requests != requests || m.Target.Connections != conns || m.Unsent != w.Unsent {
		t.Fatalf("merged: %d requests over %d connections (unsent %d); unsharded: %d (unsent %d); want %d over %d",
			m.Requests, m.Target.Connections, m.Unsent, w.Requests, w.Unsent, requests, conns)
	}
	for _, c := range results.Classes() {
		mo, wo := m.Outcomes[c], w.Outcomes[c]
		if m.Count(c) != w.Count(c) {
			t.Errorf("class %s: merged %d, unsharded %d", c, m.Count(c), w.Count(c))
			for _, e := range append(m.Exemplars[c], w.Exemplars[c]...) {
				t.Logf("  %s exemplar: %s", c, e.Error)
			}
		}
		if mo != nil && wo != nil && mo.Latency.TotalCount() != wo.Latency.TotalCount() {
			t.Errorf("class %s: histogram totals %d and %d", c, mo.Latency.TotalCount(), wo.Latency.TotalCount())
		}
	}
	mr, wr := float64(m.Requests)/m.Duration().Seconds(), float64(w.Requests)/w.Duration().Seconds()
	t.Logf("merged shards: %d requests at %.1f/s over the merge's span, %.1f/s summed over the shards (target rate %.0f); unsharded: %d at %.1f/s",
		m.Requests, mr, sumRate, m.Target.Rate, w.Requests, wr)
	if math.Abs(sumRate-wr)/wr > 0.02 || m.Target.Rate != rate {
		t.Fatalf("rates: the shards' %.1f/s together, unsharded %.1f/s (more than 2%% apart), merged target %v", sumRate, wr, m.Target.Rate)
	}
}
