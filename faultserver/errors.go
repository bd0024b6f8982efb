package faultserver

import "errors"

// Sentinel errors of the package; test with errors.Is.
var (
	// ErrInvalidConfig marks a config, fault spec or fault header that cannot be used. The
	// message names the file, line, fault and field, and what is allowed.
	ErrInvalidConfig = errors.New("invalid fault configuration")
	// ErrUnknownKind is a fault kind that is not registered.
	ErrUnknownKind = errors.New("unknown fault kind")
)
