// Package docs carries the generated documents the binary quotes: the conformance matrix
// (conformance.json, written by `make matrix`), from which `gatecrash advise` prints the fixes
// measured for a proxy.
package docs

import _ "embed"

// ConformanceJSON is docs/conformance.json as built into the binary.
//
//go:embed conformance.json
var ConformanceJSON []byte
