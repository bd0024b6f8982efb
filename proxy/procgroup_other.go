//go:build !unix

package proxy

import (
	"os"
	"os/exec"
	"time"
)

// Elsewhere there are no process groups: Stop ends the proxy's main process only.

func ownProcessGroup(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, _ bool) { cmd.Process.Kill() }

func privateDir(dir string) error { return os.Chmod(dir, 0o700) }

func nobody() (uid, gid int, ok bool) { return 0, 0, false }

// joinProcessGroup: no process groups here; the helper is stopped on its own.
func joinProcessGroup(*exec.Cmd, int) {}

func waitGroupGone(*exec.Cmd, time.Duration) {}
