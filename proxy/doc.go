// Package proxy runs the proxy under test: an embedded Go reverse proxy (the default, so the
// main job needs nothing but Go), a real nginx, HAProxy, Caddy or Apache process started from
// a config template, or an external address the user runs.
//
// Lifecycle: Start renders the kind's template (or the user's) with the origin addresses, the
// listen address, a private temp dir and the variant's variables, writes the rendered config
// and every log into the run folder, starts the binary in its own process group, and returns
// once the proxy accepts connections. Stop (idempotent, safe from any goroutine) ends the whole
// process group — SIGTERM, then SIGKILL — and removes the temp dir, so no process or directory
// outlives a run, whether it ended normally, with an error or by a signal. LogCounts, after
// Stop, counts the kind's known upstream-error log lines.
package proxy
