package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/internal/sockio"
	"github.com/gatecrash/gatecrash/results"
)

// client holds what every connection of a run shares: the target, the rendered requests and
// the dialer. It is read-only after newClient (but for next) and safe for concurrent use.
type client struct {
	cfg     *Config
	model   ClientModel
	t       *target
	tlsCfg  *tls.Config
	reqs    []rendered    // one, or the targets file's, sent in turn
	next    atomic.Uint64 // the next of reqs to send
	connIDs atomic.Uint64
	res     resources // what the machine ran out of, said once each
}

// rendered is one request as it goes on the wire.
type rendered struct {
	head    []byte // request head
	wire    []byte // head followed by the body: what one request writes
	isHEAD  bool
	hasBody bool
	// HTTP/2: the HEADERS block, the same as references to the entries it adds (for a
	// connection that sent it before; nil with several targets, whose blocks would move each
	// other's entries), and the body
	h2block []byte
	h2warm  []byte
	body    []byte
}

func newClient(cfg *Config) (*client, error) {
	t, err := parseTarget(cfg.URL)
	if err != nil {
		return nil, err
	}
	model, err := ParseClientModel(cfg.Client)
	if err != nil {
		return nil, err
	}
	c := &client{cfg: cfg, model: model, t: t}
	if t.https {
		host, _, _ := net.SplitHostPort(t.addr)
		c.tlsCfg = &tls.Config{ServerName: host, InsecureSkipVerify: cfg.Insecure, NextProtos: []string{"http/1.1"}}
		if cfg.HTTP2 {
			c.tlsCfg.NextProtos = []string{"h2"}
		}
	}
	if len(cfg.Targets) == 0 {
		body := cfg.Body
		if body == nil {
			body = requestBody(cfg.BodySize)
		}
		c.reqs = []rendered{render(cfg, cfg.Method, t, nil, body)}
		return c, nil
	}
	for _, r := range cfg.Targets {
		rt, err := parseTarget(r.URL)
		if err != nil {
			return nil, err
		}
		rq := render(cfg, r.Method, rt, r.Headers, r.Body)
		rq.h2warm = nil
		c.reqs = append(c.reqs, rq)
	}
	return c, nil
}

// render lays out one request: the request line, Host (the URL's, unless a header gives
// its own: one Host line, never two), the load's headers, then the request's own, then the
// body.
func render(cfg *Config, method string, t *target, own []string, body []byte) rendered {
	h := []byte(method + " " + t.path + " HTTP/1.1\r\n")
	if !slices.ContainsFunc(slices.Concat(cfg.Headers, own), isHostHeader) {
		h = append(h, "Host: "+t.host+"\r\n"...)
	}
	h = append(h, "User-Agent: gatecrash\r\n"...)
	if len(body) > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		h = append(h, "Content-Length: "+strconv.Itoa(len(body))+"\r\n"...)
	}
	if cfg.ExpectContinue && len(body) > 0 {
		h = append(h, "Expect: 100-continue\r\n"...)
	}
	if cfg.NoKeepAlive {
		h = append(h, "Connection: close\r\n"...)
	}
	for _, hd := range cfg.Headers {
		h = append(h, hd+"\r\n"...)
	}
	for _, hd := range own {
		h = append(h, hd+"\r\n"...)
	}
	h = append(h, "\r\n"...)
	r := rendered{head: h, wire: append(append([]byte{}, h...), body...), isHEAD: method == "HEAD", hasBody: len(body) > 0}
	if cfg.HTTP2 {
		r.h2block, r.h2warm = h2render(cfg, method, t, own, body)
		r.body = body
	}
	return r
}

func isHostHeader(h string) bool {
	name, _, _ := strings.Cut(h, ":")
	return strings.EqualFold(strings.TrimSpace(name), "host")
}

// pick returns the index of the request to send next: the targets in turn.
func (cl *client) pick() int {
	if len(cl.reqs) == 1 {
		return 0
	}
	return int((cl.next.Add(1) - 1) % uint64(len(cl.reqs)))
}

// requestBody is the n-byte body every request carries.
func requestBody(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'x'
	}
	return b
}

// liveness is what a look at an idle connection found.
type liveness uint8

const (
	alive      liveness = iota // nothing pending: as far as the client can tell, usable
	peerClosed                 // an EOF, an RST or unsolicited bytes arrived while it sat idle
	unknown                    // this platform cannot look
)

// conn is one client connection, used by one worker at a time.
type conn struct {
	nc       *countingConn
	x        *waitExchange // the exchange inside one wait (exchange.go); nil: net.Conn's calls
	look     *looker       // nil when the platform cannot look
	br       *bufio.Reader
	id       uint64
	local    string
	served   int
	lastUsed time.Time
}

// countingConn counts the bytes read from and written to a connection.
type countingConn struct {
	net.Conn
	read, written int64
	x             *waitExchange // set: Read may be called inside its wait
}

func (c *countingConn) Read(b []byte) (int, error) {
	if c.x != nil && c.x.inner {
		n, err := sockio.ReadNow(c.x.fd, b)
		c.read += int64(n)
		if err != nil && err != sockio.ErrWouldBlock && err != io.EOF {
			err = c.opError("read", err)
		}
		return n, err
	}
	n, err := c.Conn.Read(b)
	c.read += int64(n)
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written += int64(n)
	return n, err
}

// attempt is everything known about one request.
type attempt struct {
	req      int // which of the client's requests (a targets file's index)
	class    results.Class
	status   int
	intended time.Time // when the request should have started (open loop) or did
	openLoop bool      // intended came from the schedule, not from start
	start    time.Time // when it started
	end      time.Time
	fresh    bool // a new connection was opened for it
	reused   bool
	// looked is what the look at a reused connection found just before the request was
	// written: peerClosed means its close was already there (a stale reuse).
	looked liveness
	// discarded counts idle connections the client model found closed and replaced before
	// this request.
	discarded int
	idle      time.Duration
	// gap is how long the worker sat idle before this request (since its previous request
	// ended; 0 for its first).
	gap time.Duration
	// afterError: the worker's previous request ended in an error that leaves the proxy
	// without its upstream connection (results.Class.DropsUpstream)
	afterError bool
	written    int64
	read       int64
	connID     uint64
	local      string
	err        error
}

// dial opens a new connection, with TLS when the target is https.
func (cl *client) dial(deadline time.Time) (*conn, phase, error) {
	nc, tcp, ph, err := cl.dialRaw(deadline)
	if err != nil {
		return nil, ph, err
	}
	var look *looker
	if tcp != nil {
		look = newLooker(tcp)
	}
	cc := &countingConn{Conn: nc}
	c := &conn{nc: cc, look: look, br: bufio.NewReaderSize(cc, 8<<10), id: cl.connIDs.Add(1), local: nc.LocalAddr().String()}
	if look != nil && net.Conn(tcp) == nc {
		c.x = newWaitExchange(c, look.rawConn())
		cc.x = c.x
	}
	return c, phaseExchange, nil
}

// dialRaw opens the TCP connection (no Nagle) and, when the target is https, the TLS session
// over it. tcp is the TCP connection underneath.
func (cl *client) dialRaw(deadline time.Time) (nc net.Conn, tcp *net.TCPConn, ph phase, err error) {
	d := net.Dialer{Deadline: deadline, Timeout: cl.cfg.ConnectTimeout.D()}
	if nc, err = d.Dial("tcp", cl.t.addr); err != nil {
		cl.res.note(err)
		return nil, nil, phaseConnect, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tcp = tc
	}
	if cl.tlsCfg != nil {
		tc := tls.Client(nc, cl.tlsCfg)
		tc.SetDeadline(deadline)
		if err := tc.HandshakeContext(context.Background()); err != nil {
			nc.Close()
			return nil, nil, phaseHandshake, err
		}
		tc.SetDeadline(time.Time{})
		nc = tc
	}
	return nc, tcp, phaseExchange, nil
}

// expectContinueWait is how long a client waits for "100 Continue" before sending the body
// anyway (curl's default).
const expectContinueWait = time.Second

// exchange sends one request on c (opening a connection first when c is nil) and reads the
// response. It returns the connection to keep for the next request, or nil.
func (cl *client) exchange(c *conn, a *attempt, w *worker) *conn {
	a.start = time.Now()
	a.openLoop = !a.intended.IsZero()
	if a.intended.IsZero() {
		a.intended = a.start
	}
	deadline := a.start.Add(cl.cfg.Timeout.D())
	if c != nil && (cl.cfg.IdleTimeout > 0 && a.start.Sub(c.lastUsed) > cl.cfg.IdleTimeout.D() ||
		cl.cfg.MaxRequestsPerConn > 0 && c.served >= cl.cfg.MaxRequestsPerConn) {
		c.nc.Close()
		c = nil
	}
	rq := &cl.reqs[a.req]
	inWait := false // the look is made inside the exchange's wait (exchange.go)
	if c != nil {
		// One look at the idle connection (a non-blocking peek) in every model: the model
		// decides whether a close found there stops the reuse; either way the answer says
		// whether a failure on this connection was stale or a race.
		if inWait = c.x != nil && !(cl.cfg.ExpectContinue && rq.hasBody); inWait {
			c.x.look, c.x.discard = true, cl.model.checks(a.start.Sub(c.lastUsed))
		} else {
			a.looked = c.look.look()
			if a.looked == peerClosed && cl.model.checks(a.start.Sub(c.lastUsed)) {
				c.nc.Close()
				c = nil
				a.discarded++
			}
		}
	}
	return cl.exchangeOn(c, a, w, rq, deadline, inWait)
}

// exchangeOn is exchange's rest: on c (nil: a new connection), with the look inside the
// exchange's wait when inWait.
func (cl *client) exchangeOn(c *conn, a *attempt, w *worker, rq *rendered, deadline time.Time, inWait bool) *conn {
	if c == nil {
		var ph phase
		var err error
		c, ph, err = cl.dial(deadline)
		if err != nil {
			a.end, a.err, a.class = time.Now(), err, classify(ph, err, false)
			return nil
		}
		a.fresh = true
	} else {
		a.reused, a.idle = true, a.start.Sub(c.lastUsed)
	}
	a.connID, a.local = c.id, c.local
	w.cur.Store(c)
	if w.aborted.Load() { // abort raced with the dial: honour it
		c.nc.SetDeadline(time.Unix(1, 0))
	}
	r0, w0 := c.nc.read, c.nc.written
	var resp response
	err := cl.roundTrip(c, rq, deadline, &resp)
	if inWait {
		c.x.look = false
		a.looked = c.x.looked
		if c.x.stale { // the look found the idle connection closed, and the model does not reuse it
			w.cur.Store(nil)
			c.nc.Close()
			a.discarded++
			a.reused, a.idle, a.connID, a.local = false, 0, 0, ""
			return cl.exchangeOn(nil, a, w, rq, deadline, false)
		}
	}
	w.cur.Store(nil)
	a.end = time.Now()
	a.read, a.written = c.nc.read-r0, c.nc.written-w0
	if err != nil {
		a.err, a.class = err, classify(phaseExchange, err, a.read > 0)
		c.nc.Close()
		return nil
	}
	a.status, a.class = resp.status, results.ClassOfStatus(resp.status)
	c.served++
	c.lastUsed = a.end
	if resp.close || cl.cfg.NoKeepAlive || c.br.Buffered() > 0 {
		// Buffered bytes after a complete response are junk the next request must not see.
		c.nc.Close()
		return nil
	}
	return c
}

// roundTrip writes the request and reads the whole response into resp.
func (cl *client) roundTrip(c *conn, rq *rendered, deadline time.Time, resp *response) error {
	c.nc.SetDeadline(deadline)
	if cl.cfg.ExpectContinue && rq.hasBody {
		return cl.roundTripExpect(c, rq, deadline, resp)
	}
	var werr error
	if c.x != nil {
		var rerr error
		werr, rerr = c.exchangeInWait(rq.wire)
		switch {
		case c.x.stale:
			return nil // nothing was sent: the caller discards the connection
		case werr == nil && rerr != nil:
			return rerr
		case werr == nil:
			return readResponse(c, rq, resp)
		}
	} else if _, werr = c.nc.Write(rq.wire); werr == nil {
		// Yield before reading: when other workers are runnable they write their requests
		// first, and this response is usually there when this worker reads, which saves the
		// read that would find nothing (EAGAIN) and the park in the netpoller — about the cost
		// of the look. With nothing else runnable it returns at once. Latency still ends at
		// the last byte read.
		runtime.Gosched()
		return readResponse(c, rq, resp)
	}
	// The server may have answered (say 413) and closed before taking the whole body: a
	// response that arrived wins over the write error.
	if err := readResponse(c, rq, resp); err == nil {
		resp.close = true
		return nil
	}
	return werr
}

func (cl *client) roundTripExpect(c *conn, rq *rendered, deadline time.Time, resp *response) error {
	if _, err := c.nc.Write(rq.head); err != nil {
		return err
	}
	c.nc.SetReadDeadline(minTime(deadline, time.Now().Add(expectContinueWait)))
	_, err := c.br.Peek(1)
	c.nc.SetReadDeadline(deadline)
	var ne net.Error
	switch {
	case err == nil:
		// Something came back before the body went out: 100 Continue, or a final answer.
		if err := readOneHead(c.br, resp); err != nil {
			return err
		}
		if resp.status != 100 {
			resp.close = true // the body was never sent; the connection cannot be reused
			return readBody(c.br, resp, rq.isHEAD)
		}
	case errors.As(err, &ne) && ne.Timeout() && time.Now().Before(deadline):
		// no 100 Continue in time: send the body anyway, as curl does
	default:
		return err
	}
	if _, err := c.nc.Write(rq.wire[len(rq.head):]); err != nil {
		return err
	}
	return readResponse(c, rq, resp)
}

func readResponse(c *conn, rq *rendered, resp *response) error {
	if err := readResponseHead(c.br, resp); err != nil {
		return err
	}
	return readBody(c.br, resp, rq.isHEAD)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
