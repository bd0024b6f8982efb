// Package link relays TCP connections with a one-way delay in each direction, the way a
// network between two hosts delays them: bytes, a FIN and an RST each reach the other side
// the same delay after they left, in the order they left. It exists because the keep-alive
// race needs a window — from the moment an origin closes an idle connection to the moment the
// proxy sees the FIN — and on loopback that window is tens of microseconds, while across a
// network it is about one round trip. tc netem would do the same, where it is available.
//
// A FIN is passed on as a FIN (shutdown of the write side, the other direction stays open),
// and a reset as a reset (SO_LINGER 0 then close). A write that fails because the far side
// has gone (it reset, or it had closed and its kernel answered with a reset) resets the near
// side too, after the delay.
package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatecrash/gatecrash/internal/ctxwait"
)

// Config is a link's delay: each chunk of bytes, FIN or RST is held Latency ± a uniformly
// drawn Jitter (never less than zero, never out of order) before it is passed on.
type Config struct {
	Latency time.Duration `yaml:"latency" json:"latency"`
	Jitter  time.Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
}

// Validate says what is wrong with c, naming the fields as a scenario or a flag spells them.
func (c Config) Validate() error {
	var errs []error
	if c.Latency < 0 || c.Latency > time.Minute {
		errs = append(errs, fmt.Errorf("latency: %v is not allowed; allowed: 0 to 1m", c.Latency))
	}
	if c.Jitter < 0 || c.Jitter > c.Latency {
		errs = append(errs, fmt.Errorf("jitter: %v is not allowed; allowed: 0 to the latency (%v)", c.Jitter, c.Latency))
	}
	return errors.Join(errs...)
}

func (c Config) String() string {
	if c.Jitter == 0 {
		return c.Latency.String() + " each way"
	}
	return fmt.Sprintf("%v ± %v each way", c.Latency, c.Jitter)
}

// Relay accepts connections and relays each to Target through the delayed link.
type Relay struct {
	ln     net.Listener
	target string
	cfg    Config
}

// Listen listens on addr ("127.0.0.1:0") for connections to relay to target.
func Listen(addr, target string, cfg Config) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Relay{ln: ln, target: target, cfg: cfg}, nil
}

// Addr is where the relay listens.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Serve relays connections until ctx ends, then closes every relayed connection and returns
// nil; it returns an error when accepting fails for another reason.
func (r *Relay) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { r.ln.Close() })
	defer stop()
	var err error
	for {
		c, aerr := r.ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("link relay accepting on %s: %w", r.ln.Addr(), aerr)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.relay(ctx, c.(*net.TCPConn))
		}()
	}
	r.ln.Close()
	wg.Wait()
	return err
}

// relay carries one connection: a connect takes one delay (the SYN's way out), then each
// direction runs on its own.
func (r *Relay) relay(ctx context.Context, client *net.TCPConn) {
	defer client.Close()
	if !ctxwait.Sleep(ctx, r.cfg.Latency) {
		return
	}
	var d net.Dialer
	uc, err := d.DialContext(ctx, "tcp", r.target)
	if err != nil {
		// Refused, or reset at once: across a network the client sees the reset one delay
		// later.
		if ctxwait.Sleep(ctx, r.cfg.Latency) {
			reset(client)
		}
		return
	}
	up := uc.(*net.TCPConn)
	defer up.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(cctx, func() {
		// Shut down (or one direction reset the pair): unblock both reads.
		client.SetReadDeadline(time.Unix(1, 0))
		up.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()
	var wg sync.WaitGroup
	var clientFIN, upFIN atomic.Bool
	wg.Add(2)
	go func() { defer wg.Done(); r.pipe(cctx, cancel, client, up, &clientFIN, &upFIN) }()
	go func() { defer wg.Done(); r.pipe(cctx, cancel, up, client, &upFIN, &clientFIN) }()
	wg.Wait()
}

// item is what travels one way: bytes, or the end of the stream (FIN or RST).
type item struct {
	due  time.Time
	data []byte
	end  endKind
}

type endKind int

const (
	endNone endKind = iota
	endFIN
	endRST
)

// pipe carries src's bytes and its end to dst, each after the delay. A reader takes from src
// and queues with a due time; the writer passes each on when it is due. srcFIN is set when
// src has sent its FIN; dstFIN says dst has sent its own.
func (r *Relay) pipe(ctx context.Context, cancel context.CancelFunc, src, dst *net.TCPConn, srcFIN, dstFIN *atomic.Bool) {
	q := make(chan item, 1024)
	go func() {
		defer close(q)
		var last time.Time
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			now := time.Now()
			due := now.Add(r.delay())
			if due.Before(last) {
				due = last // never out of order
			}
			last = due
			if n > 0 {
				q <- item{due: due, data: buf[:n]}
			}
			if err != nil {
				switch {
				case errors.Is(err, io.EOF):
					srcFIN.Store(true)
					q <- item{due: due, end: endFIN}
				case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
					q <- item{due: due, end: endRST}
				default: // shut down
				}
				return
			}
		}
	}()
	for it := range q {
		if !ctxwait.Until(ctx, it.due) {
			return
		}
		switch it.end {
		case endFIN:
			dst.CloseWrite()
			continue
		case endRST:
			reset(dst)
			cancel()
			return
		}
		_, err := dst.Write(it.data)
		if err == nil && dstFIN.Load() && resetAfterWrite(dst) {
			// dst had closed: its kernel answered these bytes with a reset, which the
			// write itself does not report.
			err = syscall.ECONNRESET
		}
		if err != nil {
			// The far side is gone; across a network the near side would get a reset for
			// what it sent, one delay later.
			if ctxwait.Sleep(ctx, r.cfg.Latency) {
				reset(src)
			}
			cancel()
			return
		}
	}
}

// resetAfterWrite reports whether c, whose peer had sent its FIN, got a reset for bytes just
// written to it. A read no longer tells (after a FIN it returns EOF, reset or not); the
// socket's pending error does. On loopback the reset comes within microseconds; this looks
// for up to 2 ms.
func resetAfterWrite(c *net.TCPConn) bool {
	for range 10 {
		if pendingReset(c) {
			return true
		}
		time.Sleep(200 * time.Microsecond)
	}
	return false
}

// delay draws one chunk's delay.
func (r *Relay) delay() time.Duration {
	d := r.cfg.Latency
	if j := r.cfg.Jitter; j > 0 {
		d += time.Duration(rand.Int64N(int64(2*j)+1)) - j
	}
	return max(d, 0)
}

// reset ends c with an RST.
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}
