//go:build !linux

package proxy

import "os/exec"

// Elsewhere there is no parent-death signal, and no /proc to tell whether a pid still runs
// our config: a proxy left by a killed gatecrash is reported by its pid file but not stopped.

func setDeathSignal(*exec.Cmd) {}

func runsConfig(int, string) bool { return false }

func killGroup(int) {}
