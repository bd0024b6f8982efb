package probe

import (
	"context"
	"net"
	"strings"
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

// TestOriginRefusesEndlessInterimAndBadOptions: an origin that answers 100 Continue forever
// has not answered (it counted as an answer); a method with a CRLF in it is refused before
// anything is sent (it went out as is, a header injected); a negative or huge stagger is
// refused (a huge one hung).
func TestOriginRefusesEndlessInterimAndBadOptions(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				for range 1000 {
					if _, err := c.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	url := "http://" + ln.Addr().String() + "/"
	ctx := context.Background()
	if _, err := Origin(ctx, OriginOptions{URL: url, NoRace: true}); err == nil || !strings.Contains(err.Error(), "interim responses") {
		t.Fatalf("endless 100 Continue: %v", err)
	}
	for _, tc := range []struct {
		o    OriginOptions
		want string
	}{
		{OriginOptions{URL: url, Method: "GET\r\nX-Injected: y"}, `--method: "GET\r\nX-Injected: y" is not an HTTP method token`},
		{OriginOptions{URL: url, Stagger: -time.Second}, "--stagger: -1s is not allowed; allowed: 0 to 1m0s"},
		{OriginOptions{URL: url, Stagger: 2562047 * time.Hour}, "--stagger: 2562047h0m0s is not allowed"},
	} {
		if _, err := Origin(ctx, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
