// Package e2e holds the rule for end-to-end tests that need a real binary: skip with a message
// locally, fail in CI where GATECRASH_E2E=require. It is imported by tests only; the
// in-process fault server tests point things at is faultserver/faultservertest.
package e2e

import (
	"os"
	"testing"
)

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
