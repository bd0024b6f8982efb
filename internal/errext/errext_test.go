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
