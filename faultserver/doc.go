// Package faultserver is gatecrash's origin: an HTTP/1.1 (and TLS) server on raw net.Conn that
// answers normally and misbehaves exactly as its fault plan says, at a chosen byte and moment,
// and counts everything it does (the ground truth a run compares the client's view with).
//
// It does not use net/http for serving, because net/http buffers responses, closes politely and
// hides byte positions; every fault here is about which bytes went out before which close. It
// parses requests itself (Content-Length and chunked bodies, Expect: 100-continue, HTTP/1.0
// keep-alive, pipelining, bounded heads, a header timeout) and writes pre-rendered responses.
//
// Faults are small types, one file per kind, registered by name (the one place a kind's name
// is written; KindOf reads it back) and decoded strictly from YAML or from "kind:k=v,..."
// specs. Each implements one phase interface whose single method is the fault's whole
// behaviour: HandshakeFault (TLS listener, before the handshake), IdleFault (owns the wait
// between requests), RequestFault (while the request arrives) or ResponseFault (in place of
// the response). A fault acts through the connection's primitives in wire.go — read exactly,
// write, close as FIN or RST, half-close, wait — and conn.go is only the request loop that
// picks the fault for each phase. Every fault has a Selector (probability, every, nth,
// match); a request may also pick its fault with the X-Gatecrash-Fault header, held to the
// config's header limits.
//
// Lifecycle: New compiles a Config into a plan; Serve and ServeTLS block until their context
// ends, then close their listener and connections and return after every connection
// goroutine has exited. SetConfig, Config, Stats and AdminHandler are safe to call
// concurrently with serving; a new plan applies to requests that arrive afterwards. Run wires
// listeners and the admin endpoint together for `gatecrash serve`.
package faultserver
