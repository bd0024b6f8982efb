// Package loadgen is gatecrash's load generator: its own HTTP/1.1 client over net.Conn and
// crypto/tls, four pacing patterns, and exact outcome classification.
//
// It does not use net/http's client, because http.Transport silently re-sends a request that
// failed on a reused connection before any response byte (see shouldRetryRequest in
// transport.go) and reports success — hiding exactly the failures gatecrash counts. loadgen
// never retries. Every request lands in exactly one results.Class; classify is the one place
// raw OS errors are interpreted. For every request it knows whether the connection was fresh or
// reused, how long it sat idle, bytes written and read, the status and the raw error.
//
// Lifecycle: Run(ctx, cfg) starts one worker per connection slot, paces them by the pattern
// (closed, constant, poisson, bursts, gap-sweep; the constant schedule is the pure function
// ConstantPace), and returns when the duration or request count is reached or ctx ends —
// after every goroutine it started has exited. Progress goes out as data to an observer
// (WithObserver); how it is shown is the caller's business. Outcomes are recorded in a
// few mutex-protected shards (latency HdrHistograms per class, a bounded time series,
// exemplars), so memory does not grow with requests or connections. Run is safe to call
// concurrently; a Config must not be changed while a Run uses it.
package loadgen
