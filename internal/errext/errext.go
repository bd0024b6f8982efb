// Package errext attaches process exit codes to errors, so that library packages can say
// "this was the user's mistake" without calling os.Exit, and the CLI decides the exit code once,
// at the top, from the error it got back (the approach of k6's errext).
package errext

import "errors"

// ExitCode is a process exit status with a meaning the README documents ("Exit codes", under
// gatecrash run).
type ExitCode int

// Exit codes of the gatecrash binary.
const (
	OK               ExitCode = 0
	Internal         ExitCode = 1
	Usage            ExitCode = 2 // bad flag, bad input file, invalid scenario or fault plan
	ThresholdsNotMet ExitCode = 3
	Interrupted      ExitCode = 130
)

type withCode struct {
	err  error
	code ExitCode
}

func (e *withCode) Error() string { return e.err.Error() }
func (e *withCode) Unwrap() error { return e.err }

// WithExitCode wraps err so that CodeOf reports code for it. A nil err stays nil.
func WithExitCode(err error, code ExitCode) error {
	if err == nil {
		return nil
	}
	return &withCode{err: err, code: code}
}

// UsageError marks err as the user's mistake (exit code 2).
func UsageError(err error) error { return WithExitCode(err, Usage) }

// CodeOf returns the exit code for err: OK for nil, the outermost attached code, or Internal.
func CodeOf(err error) ExitCode {
	if err == nil {
		return OK
	}
	var wc *withCode
	if errors.As(err, &wc) {
		return wc.code
	}
	return Internal
}
