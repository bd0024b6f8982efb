// Package e2e holds the rule for end-to-end tests that need a real binary: skip with a message
// locally, fail in CI where GATECRASH_E2E=require. It is imported by tests only; the
// in-process fault server tests point things at is faultserver/faultservertest.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Part is something an end-to-end test needs installed: a proxy kind (proxy.Kind), an app
// server (proxy.AppKind), a program (Program). Missing says what to install, or nil.
type Part interface {
	Missing() error
}

// Need skips the test unless every part is installed (fails it under GATECRASH_E2E=require),
// naming what is missing and how to install it.
func Need(t testing.TB, parts ...Part) {
	t.Helper()
	for _, p := range parts {
		Require(t, p.Missing())
	}
}

// Program is a program the test runs, found on PATH or in /usr/sbin; pkg is the Debian
// package that has it.
func Program(name, pkg string) Part { return program{name, pkg} }

type program struct{ name, pkg string }

func (p program) Missing() error {
	if _, err := Path(p.name); err != nil {
		return fmt.Errorf("%s is not installed (apt-get install %s): %v", p.name, p.pkg, err)
	}
	return nil
}

// Path returns where program name is: on PATH, or in /usr/sbin (not on a user's PATH on Debian).
func Path(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		if p2, err2 := exec.LookPath("/usr/sbin/" + name); err2 == nil {
			return p2, nil
		}
	}
	return p, err
}

// Require skips the test when missing is non-nil (a binary is not installed), or fails it
// under GATECRASH_E2E=require.
func Require(t testing.TB, missing error) {
	t.Helper()
	if missing == nil {
		return
	}
	if os.Getenv("GATECRASH_E2E") == "require" {
		t.Fatalf("GATECRASH_E2E=require: %v", missing)
	}
	t.Skipf("skipping end-to-end test: %v", missing)
}
