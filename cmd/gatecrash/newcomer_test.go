//go:build unix

package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestNewcomer runs scripts/newcomer.sh — the README's first-hour commands in order on a clean
// folder, each exit code and key line checked — and checks that every command the script runs
// is in the README word for word, so that neither can change without the other.
func TestNewcomer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the main job")
	}
	script, err := os.ReadFile("../../scripts/newcomer.sh")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	step := regexp.MustCompile(`^expect \d+ '[^']*' (gatecrash .*?)( \$SHORT)?$`)
	n := 0
	for _, l := range strings.Split(string(script), "\n") {
		m := step.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n++
		if !strings.Contains(string(readme), m[1]) {
			t.Errorf("scripts/newcomer.sh runs %q, which the README does not show", m[1])
		}
	}
	if n < 6 {
		t.Fatalf("%d checked steps in scripts/newcomer.sh", n)
	}
	bin := buildBinary(t)
	cmd := exec.Command("../../scripts/newcomer.sh", bin)
	cmd.Env = append(os.Environ(), "SHORT=--duration 4s")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "all as the README says") {
		t.Fatalf("newcomer script: %v\n%s", err, out)
	}
}
