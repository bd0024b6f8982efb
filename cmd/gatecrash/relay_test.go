//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gatecrash/gatecrash/faultserver"
)

// startServe runs the built binary's serve with args until the test ends, and returns once
// it listens; stderr lines go to lines.
func startServe(t *testing.T, bin string, args ...string) (*exec.Cmd, *bytes.Buffer, *syncLines) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := &syncLines{}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			lines.add(sc.Text())
			if strings.HasPrefix(sc.Text(), "fault server: http://") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("serve %v never listened: %s", args, lines)
	}
	return cmd, &stdout, lines
}

type syncLines struct {
	mu sync.Mutex
	l  []string
}

func (s *syncLines) add(l string) { s.mu.Lock(); s.l = append(s.l, l); s.mu.Unlock() }
func (s *syncLines) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.l, "\n")
}

// metric reads the first sample of a metric from a Prometheus text page.
func metric(t *testing.T, page, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(page, "\n") {
		if !strings.HasPrefix(l, name+" ") && !strings.HasPrefix(l, name+"{") {
			continue
		}
		if _, v, ok := strings.Cut(l, " "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRelayHoldsTenThousandConnections: the relay (its own process, like in staging) holds as
// many concurrent keep-alive connections as its file limit allows — 10,000 where `ulimit -n`
// permits, each with its own connection to the app — with file descriptors and goroutines
// bounded by two per connection, lets them all go again without a leak, and drains on
// SIGTERM.
func TestRelayHoldsTenThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections")
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	n := min(10_000, int(lim.Cur-64)/2) // what the relay's own budget allows (it says so)
	if n < 10_000 {
		t.Logf("the file limit here is %d: the relay holds %d connections (10,000 need ulimit -n of 20,064)", lim.Cur, n)
	}
	bin := buildBinary(t)
	appAddr, relayAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	startServe(t, bin, "--listen", appAddr, "--admin", "", "--max-connections", "0")
	relay, stdout, lines := startServe(t, bin, "--listen", relayAddr, "--admin", adminAddr, "--upstream", "http://"+appAddr)
	if n < 10_000 && !strings.Contains(lines.String(), "note: connections bounded at "+strconv.Itoa(n)) {
		t.Errorf("the relay did not say its bound:\n%s", lines)
	}

	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 200)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", relayAddr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				errs <- err
				return
			}
			buf := make([]byte, 256)
			var got []byte
			for !bytes.HasSuffix(got, []byte("\r\n\r\nok")) {
				k, err := c.Read(buf)
				if err != nil {
					errs <- err
					return
				}
				got = append(got, buf[:k]...)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a client: %v", err)
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()

	var st faultserver.Stats
	if err := json.Unmarshal([]byte(getText(t, "http://"+adminAddr+"/stats")), &st); err != nil {
		t.Fatal(err)
	}
	if st.ConnectionsOpen != int64(n) || st.Relay == nil || st.Relay.ConnectionsOpen != int64(n) || st.Relay.AppErrors.Total() != 0 {
		t.Fatalf("with %d clients open: %d downstream, relay %+v", n, st.ConnectionsOpen, st.Relay)
	}
	page := getText(t, "http://"+adminAddr+"/metrics")
	fds, gor, rss := metric(t, page, "process_open_fds"), metric(t, page, "go_goroutines"), metric(t, page, "process_resident_memory_bytes")
	t.Logf("%d connections held: %.0f open files, %.0f goroutines, %.1f MiB resident", n, fds, gor, rss/(1<<20))
	if fds > float64(2*n+64) || gor > float64(2*n+64) {
		t.Errorf("%d connections: %.0f files and %.0f goroutines; want at most two per connection (+64)", n, fds, gor)
	}

	for i, c := range conns {
		c.Close()
		conns[i] = nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		page = getText(t, "http://"+adminAddr+"/metrics")
		if metric(t, page, "go_goroutines") < 64 && metric(t, page, "process_open_fds") < 64 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after every client left: %.0f goroutines, %.0f open files", metric(t, page, "go_goroutines"), metric(t, page, "process_open_fds"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	relay.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- relay.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("relay exit %d after SIGTERM", ee.ExitCode())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("relay still running 10 s after SIGTERM")
	}
	if !strings.Contains(stdout.String(), "responses relayed "+strconv.Itoa(n)) {
		t.Errorf("final counters:\n%s", stdout)
	}
}

// TestRelayStreamsLargeBodies: 64 MiB down and 100 MiB up through the relay process, whose
// peak resident memory stays far below either body: nothing is buffered whole.
func TestRelayStreamsLargeBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; 164 MiB through loopback")
	}
	bin := buildBinary(t)
	appAddr, relayAddr := freeAddr(t), freeAddr(t)
	startServe(t, bin, "--listen", appAddr, "--admin", "", "--body-size", strconv.Itoa(64<<20))
	relay, _, _ := startServe(t, bin, "--listen", relayAddr, "--admin", "", "--upstream", "http://"+appAddr)
	resp, err := http.Get("http://" + relayAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 64<<20 {
		t.Fatalf("download through the relay: %d bytes, %v", n, err)
	}
	up := io.LimitReader(zeros{}, 100<<20)
	resp, err = http.Post("http://"+relayAddr+"/", "application/octet-stream", up)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload through the relay: %s", resp.Status)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(relay.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var hwmKB int
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			hwmKB, _ = strconv.Atoi(strings.Fields(v)[0])
		}
	}
	t.Logf("relay peak RSS after 64 MiB down and 100 MiB up: %d KiB", hwmKB)
	if hwmKB == 0 || hwmKB > 48<<10 {
		t.Errorf("relay peak RSS %d KiB; want well under the 64 MiB body (it streams)", hwmKB)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
