package proxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopLeftover: a process group still running the config named in a run folder's pid file
// is ended and its temp dir removed; a live process running something else (a recycled pid)
// is left alone.
func TestStopLeftover(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	type proc struct {
		*exec.Cmd
		done chan struct{}
	}
	startGroup := func(arg0 string) proc {
		// sh -c 'sleep 30 & wait' ARG0: the group holds sh and a child, like a master and a
		// worker, and ARG0 is on sh's command line.
		cmd := exec.Command("/bin/sh", "-c", "sleep 30 & wait", arg0)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := proc{cmd, make(chan struct{})}
		go func() { cmd.Wait(); close(p.done) }()
		t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-p.done })
		return p
	}
	exited := func(p proc) bool {
		select {
		case <-p.done:
			return true
		case <-time.After(5 * time.Second):
			return false
		}
	}

	t.Run("ours is stopped", func(t *testing.T) {
		cmd := startGroup(conf)
		temp, err := os.MkdirTemp("", "gatecrash-nginx-")
		if err != nil {
			t.Fatal(err)
		}
		if err := writePidFile(dir, pidRecord{Kind: Nginx, PID: cmd.Process.Pid, Conf: conf, Temp: temp}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // let sh start its child
		msg, err := stopLeftover(dir)
		if err != nil || !strings.Contains(msg, "stopped nginx") {
			t.Fatalf("stopLeftover = %q, %v", msg, err)
		}
		if !exited(cmd) {
			t.Fatal("the leftover process still runs")
		}
		if left := groupMembers(cmd.Process.Pid); len(left) > 0 {
			t.Fatalf("processes %v of the leftover's group still run", left)
		}
		if _, err := os.Stat(temp); !os.IsNotExist(err) {
			t.Fatalf("leftover temp dir: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, pidFileName)); !os.IsNotExist(err) {
			t.Fatalf("pid file: %v", err)
		}
	})
	t.Run("a recycled pid is left alone", func(t *testing.T) {
		cmd := startGroup("/somewhere/else.conf")
		if err := writePidFile(dir, pidRecord{Kind: Nginx, PID: cmd.Process.Pid, Conf: conf}); err != nil {
			t.Fatal(err)
		}
		msg, err := stopLeftover(dir)
		if err != nil || msg != "" {
			t.Fatalf("stopLeftover = %q, %v; want nothing done", msg, err)
		}
		if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
			t.Fatalf("a process that does not run our config was signalled: %v", err)
		}
	})
	t.Run("no pid file", func(t *testing.T) {
		if msg, err := stopLeftover(t.TempDir()); msg != "" || err != nil {
			t.Fatalf("stopLeftover = %q, %v", msg, err)
		}
	})
}
