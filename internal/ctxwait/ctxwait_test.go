package ctxwait

import (
	"context"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("a sleep that ran its course reported false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Sleep(ctx, time.Hour) || time.Since(start) > time.Second {
		t.Error("a sleep under an ended context did not return false at once")
	}
	if Sleep(ctx, 0) {
		t.Error("a zero sleep under an ended context reported true")
	}
	if !Until(context.Background(), time.Now().Add(-time.Second)) {
		t.Error("a time in the past was not reached")
	}
}
