// Package probe measures, from outside, the idle windows of the hops in front of a service:
// how long an origin keeps an idle keep-alive connection before it closes it (Origin), how
// long a proxy keeps idle upstream connections, how many it pools, in which order it reuses
// them and whether it retries a request whose upstream connection failed (Proxy), and which
// adjacent pair of hops races (Chain). It knows the fault server (the upstream the proxy probe
// watches) and the proxy package (to start a built-in proxy); nothing here writes to a
// terminal except through the Log writers it is given.
package probe
