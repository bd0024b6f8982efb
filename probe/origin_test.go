package probe

import (
	"testing"
	"time"
)

func TestSafeBelow(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		5 * time.Second:         4 * time.Second,
		60 * time.Second:        48 * time.Second,
		time.Second:             800 * time.Millisecond,
		1500 * time.Millisecond: 1200 * time.Millisecond,
		50 * time.Millisecond:   40 * time.Millisecond,
	} {
		if got := SafeBelow(in); got != want {
			t.Errorf("SafeBelow(%v) = %v; want %v", in, got, want)
		}
	}
}

func TestAnnouncedTimeout(t *testing.T) {
	if d, ok := announcedTimeout("timeout=5, max=100"); !ok || d != 5*time.Second {
		t.Errorf("timeout=5, max=100: %v %v", d, ok)
	}
	if _, ok := announcedTimeout("max=100"); ok {
		t.Error("no timeout read as one")
	}
}

func TestSpread(t *testing.T) {
	s := spreadOf([]time.Duration{3, 1, 2, 4})
	if s.N != 4 || s.Min != 1 || s.Max != 4 || s.Median != 2 {
		t.Errorf("%+v", s)
	}
	if spreadOf(nil) != nil {
		t.Error("spread of nothing is not nil")
	}
}
