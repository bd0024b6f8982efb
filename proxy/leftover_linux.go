package proxy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
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
		if syscall.Kill(-pid, 0) != nil {
			return
		}
	}
	syscall.Kill(-pid, syscall.SIGKILL)
}
