package faultserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/internal/http1"
	"github.com/gatecrash/gatecrash/internal/sockio"
	"github.com/gatecrash/gatecrash/results"
)

// Upstream is the app behind a relaying server (gatecrash serve --upstream): each downstream
// connection that sends a request gets a connection of its own to it.
type Upstream struct {
	url         string
	addr        string // host:port to dial
	tls         *tls.Config
	dialTimeout time.Duration
	timeout     time.Duration
	beforeWait  func() // tests: runs in sendAwait between the answer check's deadline and its wait
}

// UpstreamOptions are the settings of an upstream besides its URL.
type UpstreamOptions struct {
	// Insecure skips verifying an https app's certificate.
	Insecure bool
	// CAFile is a PEM file of certificates to verify an https app's certificate with,
	// instead of the system's.
	CAFile string
	// DialTimeout bounds opening a connection to the app (default 5 s).
	DialTimeout time.Duration
	// Timeout bounds each wait on the app: for its response head, and for each read of its
	// body (default 2 m — longer than a proxy's usual read timeout, so that the proxy's
	// timeout shows, not the relay's).
	Timeout time.Duration
}

// Defaults of UpstreamOptions.
const (
	DefaultUpstreamDialTimeout = 5 * time.Second
	DefaultUpstreamTimeout     = 2 * time.Minute
)

// ParseUpstream checks an app's URL (http://host:port or https://host:port, no path) and
// its options.
func ParseUpstream(raw string, o UpstreamOptions) (*Upstream, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q: want http://host:port or https://host:port", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("upstream %q: give only the scheme, host and port: requests keep the path they came with", raw)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	up := &Upstream{url: u.Scheme + "://" + u.Host, addr: net.JoinHostPort(host, port),
		dialTimeout: o.DialTimeout, timeout: o.Timeout}
	if up.dialTimeout <= 0 {
		up.dialTimeout = DefaultUpstreamDialTimeout
	}
	if up.timeout <= 0 {
		up.timeout = DefaultUpstreamTimeout
	}
	if u.Scheme == "https" {
		up.tls = &tls.Config{ServerName: host, InsecureSkipVerify: o.Insecure, NextProtos: []string{"http/1.1"}}
		if o.CAFile != "" {
			pem, err := files.Read(o.CAFile, "--upstream-ca", 16<<20, nil)
			if err != nil {
				return nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("upstream CA file %s: no PEM certificate in it", o.CAFile)
			}
			up.tls.RootCAs = pool
		}
	} else if o.Insecure || o.CAFile != "" {
		return nil, fmt.Errorf("upstream %q: --upstream-insecure and --upstream-ca are for an https:// upstream", raw)
	}
	return up, nil
}

// check opens one connection to the app and closes it, to say at start-up whether it is there.
func (u *Upstream) check(ctx context.Context) error {
	d := net.Dialer{Timeout: u.dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", u.addr)
	if err != nil {
		return err
	}
	return nc.Close()
}

// String returns the upstream's URL.
func (u *Upstream) String() string { return u.url }

// WithUpstream makes the server a relay: requests go to the app at u and its responses come
// back, with the fault plan acting in between.
func WithUpstream(u *Upstream) Option { return func(s *Server) { s.upstream = u } }

// Relay counters, by index into relayStats.n.
const (
	rOpened = iota
	rForwarded
	rOnReused
	rRelayed
	rAppClosedIdle
	rAppClosedAfter
	rRelayClosed
	rErrConnect
	rErrReset
	rErrClosed
	rErrTimeout
	rErrMalformed
	numRelayCounters
)

type relayStats struct {
	n    [numRelayCounters]atomic.Uint64
	open atomic.Int64
}

func (r *relayStats) snapshot(upstream string) *results.RelayCounts {
	v := func(i int) uint64 { return r.n[i].Load() }
	return &results.RelayCounts{
		Upstream: upstream, ConnectionsOpened: v(rOpened), ConnectionsOpen: r.open.Load(),
		RequestsForwarded: v(rForwarded), RequestsOnReused: v(rOnReused), ResponsesRelayed: v(rRelayed),
		AppClosedIdle: v(rAppClosedIdle), AppClosedAfterResponse: v(rAppClosedAfter), RelayClosed: v(rRelayClosed),
		AppErrors: results.AppErrors{Connect: v(rErrConnect), Reset: v(rErrReset), Closed: v(rErrClosed),
			Timeout: v(rErrTimeout), Malformed: v(rErrMalformed)},
	}
}

// upConn is a downstream connection's own connection to the app.
//
// Its watcher goroutine does every wait for the app's first byte: while the downstream
// connection sits idle between requests, so that the app's own keep-alive close (or bytes no
// request asked for) is seen the moment it happens and passed on; and while a request is out,
// for the first byte of the answer. The request loop hands the connection to the watcher
// (release) and takes it back when the watcher reports (awaitAnswer, or claim failing); in
// between only one of them reads. No deadline has to interrupt the watcher on the steady
// path, so a request costs no allocation.
type upConn struct {
	nc       net.Conn
	br       *bufio.Reader
	tr       *tryReader
	dw       deadlineWriter // writes of a request that may block: each with the upstream timeout
	requests int
	head     http1.ResponseHead
	state    atomic.Int32 // upBusy, upIdle or upWoken
	watching bool         // the watcher holds the connection (a result will come on watchRes)
	watchReq chan struct{}
	watchRes chan error
	ended    bool // the app ended it (seen by the watcher or a read)

	// sendAwait's state: the request to send (nil: none; forward leaves a request that goes
	// out in one write to it), what the write and the read met, and its loop, built once
	out   []byte
	ring  *ringSock // the app connection in the server's io_uring (WithIOUring), nil without
	sent  bool
	saErr error
	saFn  func(fd uintptr) bool
	// beforeWait: the Upstream's (tests)
	beforeWait func()
	// answers sendAwait waited for, its reads that found nothing, and its answer checks
	// (for tests)
	awaited, awaitMisses, checks uint64
}

// upConn states. busy: a request is out, and the watcher's report is the answer's first
// byte. Between requests the app connection is idle and a report means the app did something
// by itself: idleWaiting while the downstream connection waits for its next request (the
// watcher then wakes it: woken), idleWorking while the downstream connection is busy with a
// request the app has not been sent (the watcher then only reports: gone).
const (
	upBusy int32 = iota
	upIdleWaiting
	upIdleWorking
	upWoken
	upGone
)

// dialUpstream opens a connection to the app, and starts its watcher.
func (s *Server) dialUpstream(ctx context.Context, wake func()) (*upConn, error) {
	u := s.upstream
	d := net.Dialer{Timeout: u.dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", u.addr)
	if err != nil {
		return nil, err
	}
	if u.tls != nil {
		tc := tls.Client(nc, u.tls)
		tc.SetDeadline(time.Now().Add(u.dialTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", u.addr, err)
		}
		tc.SetDeadline(time.Time{})
		nc = tc
	}
	uc := &upConn{nc: nc, watchReq: make(chan struct{}), watchRes: make(chan error, 1), beforeWait: u.beforeWait}
	uc.tr = newTryReader(nc)
	uc.br = bufio.NewReaderSize(uc.tr, readBufSize)
	go uc.watch(wake)
	return uc, nil
}

// watch serves the request loop's hand-overs: it waits for the app's next byte or the end of
// the connection, wakes the downstream side when that happened while it waited for a
// request, and reports. It ends when watchReq is closed.
func (u *upConn) watch(wake func()) {
	for range u.watchReq {
		_, err := u.br.Peek(1)
		if u.state.CompareAndSwap(upIdleWaiting, upWoken) {
			wake()
		} else {
			u.state.CompareAndSwap(upIdleWorking, upGone)
		}
		u.watchRes <- err
	}
}

// hand gives the connection to the watcher.
func (u *upConn) hand() {
	u.tr.timeout = 0
	u.watching = true
	u.watchReq <- struct{}{}
}

// report takes the watcher's report: nil when the app sent a byte, else how the wait ended.
func (u *upConn) report() error {
	err := <-u.watchRes
	u.watching = false
	return err
}

// idleReport takes the report of a watcher that saw the app act on an idle connection.
func (u *upConn) idleReport() error {
	err := u.report()
	u.ended = true
	if err == nil {
		return errUnsolicited
	}
	return err
}

// release hands the connection, idle now that an exchange is over, to the watcher.
func (u *upConn) release() {
	if u.ended || u.watching {
		return
	}
	if u.tr.hasDeadline {
		u.nc.SetReadDeadline(time.Time{})
		u.tr.hasDeadline = false
	}
	u.state.Store(upIdleWorking)
	u.hand()
}

// waiting marks the downstream connection as waiting for its next request. It returns what
// the app did to its idle connection meanwhile (nil: nothing).
func (u *upConn) waiting() error {
	if !u.watching || u.state.CompareAndSwap(upIdleWorking, upIdleWaiting) || u.state.Load() == upIdleWaiting {
		return nil
	}
	return u.idleReport() // gone
}

// working marks the end of the downstream connection's wait. It returns what the app did to
// its idle connection during the wait (the watcher has woken the wait: the caller's read
// deadline was changed).
func (u *upConn) working() error {
	if !u.watching || u.state.CompareAndSwap(upIdleWaiting, upIdleWorking) || u.state.Load() == upIdleWorking {
		return nil
	}
	return u.idleReport() // woken
}

// claim takes the idle connection for a request. It returns what the app did to it since it
// went idle, if anything (the request then cannot go to the app on it).
func (u *upConn) claim() error {
	if !u.watching || u.state.CompareAndSwap(upIdleWorking, upBusy) {
		u.state.Store(upBusy)
		return nil
	}
	return u.idleReport()
}

// awaitAnswer waits, at most timeout, for the first byte of the app's answer to the request
// just sent (the n-th on this connection); afterwards each read of the answer is bounded by
// timeout. A request forward left to send goes out inside the wait (sendAwait); when the
// watcher holds the connection it reports the first byte; otherwise the caller reads it,
// trying first without waiting (see tryReader).
func (u *upConn) awaitAnswer(timeout time.Duration, n int) error {
	if u.out != nil {
		return u.sendAwait(timeout)
	}
	if u.watching {
		u.nc.SetReadDeadline(time.Now().Add(timeout))
		u.tr.hasDeadline = true
		err := u.report()
		u.tr.timeout = timeout
		return err
	}
	u.tr.timeout = timeout
	if u.br.Buffered() > 0 {
		return nil
	}
	if u.tr.worthTrying(n) {
		runtime.Gosched() // let the other connections' goroutines run while the app answers
		u.tr.try = true
		_, err := u.br.Peek(1)
		u.tr.try = false
		u.tr.tried(err == nil)
		if !errors.Is(err, errWouldBlock) {
			return err
		}
	}
	_, err := u.br.Peek(1)
	return err
}

// deferSend reports whether the request b, which goes out in one write, can be left to
// awaitAnswer's sendAwait: on a plain TCP app connection that no watcher holds and that has
// nothing buffered.
func (u *upConn) deferSend(b []byte) bool {
	if u.tr.rc == nil || u.watching || u.br.Buffered() > 0 {
		return false
	}
	u.out = b
	return true
}

// sendAwait sends the request in u.out and waits, at most timeout, for the first byte of the
// app's answer, inside one wait of the poller (RawConn.Read): the socket's readiness is
// cleared when the wait begins, before the request goes out, so what arrives after it wakes
// the wait — where net.Conn.Read would first try a read that finds nothing. Inside the wait
// the connection is written and read without waiting (sockio).
//
// What the app sent before the wait began woke no one since, and only a read finds it: its
// FIN above all (it closed the idle connection, or closes lingering and reads on, as Apache
// does, so no reset follows the request either). Rather than a read after every request —
// one that finds nothing nearly always — the first wait is bounded by answerCheck; an answer
// not there by then is looked for by one read, and the wait goes on to the timeout. An app
// FIN from just before the request is passed on answerCheck late; an app that closes an idle
// connection later than the watcher's grace is the watcher's (deferSend).
func (u *upConn) sendAwait(timeout time.Duration) error {
	if u.ring != nil {
		return u.ringSendAwait(timeout)
	}
	if u.saFn == nil {
		u.saFn = u.sendAwaitStep
	}
	now := time.Now()
	end := now.Add(timeout)
	u.nc.SetReadDeadline(now.Add(min(timeout, answerCheck)))
	if u.beforeWait != nil {
		u.beforeWait()
	}
	u.tr.hasDeadline = true
	u.tr.timeout = timeout
	u.sent, u.saErr = false, nil
	u.awaited++
	checked := timeout <= answerCheck
	err := u.tr.rc.Read(u.saFn)
	for err != nil && u.saErr == nil && errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(end) {
		if !u.sent {
			// The deadline passed before the wait began (this goroutine did not run for
			// answerCheck): the request has not gone out; the check starts again.
			d := time.Now().Add(answerCheck)
			if d.After(end) {
				d = end
			}
			u.nc.SetReadDeadline(d)
		} else if !checked {
			checked = true
			u.checks++
			u.nc.SetReadDeadline(end)
		} else {
			break
		}
		err = u.tr.rc.Read(u.saFn)
	}
	u.tr.inWait = false
	u.out = nil
	if u.saErr != nil {
		return u.saErr
	}
	return err
}

// ringSendAwait is sendAwait through the server's io_uring: the request is queued and the
// read of the answer with it, bounded by timeout. The ring's read finds an app FIN from
// before the request at once, so no answer check is needed.
func (u *upConn) ringSendAwait(timeout time.Duration) error {
	u.awaited++
	u.tr.timeout = timeout
	err := u.ring.write(u.out)
	u.out = nil
	if err != nil {
		return err
	}
	return u.ring.wait(time.Now().Add(timeout))
}

// answerCheck bounds sendAwait's first wait: an answer not there by then is looked for by a
// read (see sendAwait). Past the loopback answers of a busy app, well short of what a client
// would notice.
const answerCheck = 5 * time.Millisecond

// sendAwaitStep is sendAwait's loop: the first call sends the request and waits, each call
// after (a wake-up, or the answer check) reads what is there. It returns false to wait,
// true when done (saErr says how).
func (u *upConn) sendAwaitStep(fd uintptr) bool {
	if !u.sent {
		u.sent = true
		if _, err := sockio.Write(fd, u.nc, u.out); err != nil {
			u.saErr = err
			return true
		}
		return false
	}
	u.tr.fd, u.tr.inWait = fd, true
	_, err := u.br.Peek(1)
	u.tr.inWait = false
	if err == errWouldBlock {
		u.awaitMisses++
		return false
	}
	u.saErr = err
	return true
}

// deadlineWriter sets a write deadline before each write when timeout > 0: an inactivity
// bound on the app taking a request, not a bound on a long upload as a whole.
type deadlineWriter struct {
	nc      net.Conn
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if d.timeout > 0 {
		d.nc.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	return d.nc.Write(p)
}

var errUnsolicited = errors.New("the app sent bytes with no request outstanding")

// close ends the app connection and its watcher.
func (u *upConn) close() {
	if u.ring != nil {
		u.ring.release()
		u.ring = nil
	}
	u.nc.Close()
	if u.watching {
		u.report()
	}
	close(u.watchReq)
}
