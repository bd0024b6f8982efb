// Package http1 holds the HTTP/1.1 framing that both ends of gatecrash parse: decimal and hex
// numbers, tokens, case-insensitive header names and values, and chunked bodies with their
// trailers. The fault server reads requests with it and the load generator reads responses;
// neither knows the other, and this package knows neither.
//
// Everything here works on caller-owned buffers and a *bufio.Reader, does not allocate on the
// success path, and is stateless: safe to call concurrently on different readers.
package http1
