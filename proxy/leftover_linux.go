package proxy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// setDeathSignal makes the kernel send the proxy SIGTERM when gatecrash dies, however it
// dies (SIGKILL included): a proxy's master ends its workers on SIGTERM. The signal is tied
// to the thread that started the proxy; Go does not end its threads (none of gatecrash's
// goroutines locks one and exits), so in practice it is tied to the process.
func setDeathSignal(cmd *exec.Cmd) { cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM }

// runsConfig reports whether process pid is alive and has conf on its command line: a pid
// recycled for another program is left alone.
func runsConfig(pid int, conf string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && conf != "" && bytes.Contains(b, []byte(conf))
}

// killGroup ends process group pid: SIGTERM, then SIGKILL after 3 s.
func killGroup(pid int) {
	syscall.Kill(-pid, syscall.SIGTERM)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !groupRuns(pid) {
			return
		}
	}
	syscall.Kill(-pid, syscall.SIGKILL)
}

// groupMembers lists the processes of process group pgid that still run. A member that has
// exited but not been reaped (a zombie) is not one: a proxy's helper (Traffic Server's
// traffic_crashlog) outlives its master, is adopted by PID 1, and an init that reaps once a
// second or so — a container's, this CI's — leaves it a zombie for a while, which kill(2)
// still finds.
func groupMembers(pgid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	group := []byte(strconv.Itoa(pgid))
	var out []int
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 > len(b) {
			continue
		}
		f := bytes.Fields(b[i+2:])
		if len(f) > 2 && bytes.Equal(f[2], group) && string(f[0]) != "Z" && string(f[0]) != "X" {
			pidText, _, _ := bytes.Cut(b, []byte(" "))
			if pid, err := strconv.Atoi(string(pidText)); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// groupRuns reports whether any process of group pgid still runs (zombies aside).
func groupRuns(pgid int) bool { return len(groupMembers(pgid)) > 0 }
