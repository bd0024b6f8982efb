// Package scenarios is what `gatecrash run` runs: the scenario file format
// (apiVersion gatecrash/v1), its strict loader, the built-in library (embedded), and the
// runner that wires an origin (faultserver), a proxy under test (proxy) and a load (loadgen)
// together for each variant and compares them.
//
// A scenario has base sections — origin, proxy, load — and variants, each a named set of
// overrides deep-merged over the base (mappings merge key by key; anything else replaces).
// Every variant is resolved and validated at load time, so a broken variant is reported with
// its file:line:column before anything runs. expect holds thresholds per variant (or all)
// that decide the exit code.
//
// This is the only package that knows all the others. Parse and Builtin return immutable
// scenarios, safe to share; Scenario.Run runs variants one after another and returns after
// everything it started has stopped.
package scenarios
