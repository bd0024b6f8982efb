//go:build unix

package proxy

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// ownProcessGroup starts cmd in a process group of its own, so that Stop reaches every worker
// it forks and a signal to gatecrash's terminal does not, and (on Linux) so that it gets
// SIGTERM when gatecrash dies.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd)
}

// signalGroup sends SIGTERM (or SIGKILL when kill) to cmd's whole process group.
func signalGroup(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-cmd.Process.Pid, sig)
}

// privateDir makes dir 0700. As root it gives the folder to "nobody", the user nginx's and
// Apache's workers run as (the templates say so), so they can write their temp files there
// and no one else can read or plant anything.
func privateDir(dir string) error {
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, ok := nobody()
	if !ok {
		return nil // no such user: root keeps it, and a worker that needs it will say so
	}
	return os.Chown(dir, uid, gid)
}

// nobody returns the ids of the user "nobody", the one proxies that drop root run as.
func nobody() (uid, gid int, ok bool) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return 0, 0, false
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, true
}

// joinProcessGroup starts cmd in process group pgid (a proxy's), so that Stop ends it with
// the proxy.
func joinProcessGroup(cmd *exec.Cmd, pgid int) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
	setDeathSignal(cmd)
}

// waitGroupGone waits up to d for every process of cmd's group to be gone (a worker can
// outlive its master by a moment, as nghttpx's does).
func waitGroupGone(cmd *exec.Cmd, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !groupRuns(cmd.Process.Pid) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
