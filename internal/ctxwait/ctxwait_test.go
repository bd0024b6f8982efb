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

func TestExact(t *testing.T) {
	var worst time.Duration
	for range 20 {
		at := time.Now().Add(3 * time.Millisecond)
		if !Exact(context.Background(), at) {
			t.Fatal("Exact under a live context reported false")
		}
		late := time.Since(at)
		if late < 0 {
			t.Fatalf("Exact returned %s before its deadline", -late)
		}
		worst = max(worst, late)
	}
	t.Logf("latest return after the deadline: %s", worst)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Exact(ctx, time.Now().Add(time.Hour)) {
		t.Error("Exact under an ended context reported true")
	}
}
