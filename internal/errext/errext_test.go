package errext

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodeOf(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	cases := []struct {
		name string
		err  error
		want ExitCode
	}{
		{"nil", nil, OK},
		{"plain error is internal", base, Internal},
		{"usage", UsageError(base), Usage},
		{"wrapped usage keeps its code", fmt.Errorf("loading: %w", UsageError(base)), Usage},
		{"outermost code wins", WithExitCode(UsageError(base), Interrupted), Interrupted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := CodeOf(tc.err); got != tc.want {
				t.Fatalf("CodeOf(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
	if WithExitCode(nil, Usage) != nil {
		t.Fatal("WithExitCode(nil) must stay nil")
	}
	if !errors.Is(UsageError(base), base) {
		t.Fatal("UsageError must unwrap to the original error")
	}
}

func TestFlatten(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	got := Flatten(errors.Join(a, errors.Join(b, nil, c), fmt.Errorf("wrapped: %w", errors.Join(a))))
	if len(got) != 4 || got[0] != a || got[1] != b || got[2] != c || got[3].Error() != "wrapped: a" {
		t.Fatalf("Flatten = %v", got)
	}
	if Flatten(nil) != nil || len(Flatten(a)) != 1 {
		t.Fatal("nil has no leaves; a plain error is its own")
	}
}
