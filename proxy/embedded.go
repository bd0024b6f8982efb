package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// embeddedPatterns are the upstream errors the embedded proxy logs, one line per failed
// request ("proxy error: <Go error>").
var embeddedPatterns = []pattern{
	lit("EOF (upstream closed)", "EOF"),
	lit("connection reset by peer", "connection reset by peer"),
	lit("broken pipe", "broken pipe"),
	lit("timeout awaiting response headers", "timeout awaiting response headers"),
	lit("TLS handshake timeout", "TLS handshake timeout"),
	lit("connection refused", "connection refused"),
}

type embeddedProxy struct {
	url      string
	srv      *http.Server
	tr       *http.Transport
	logPath  string
	logMu    sync.Mutex
	logf     *os.File
	done     chan struct{}
	serveErr error // why Serve returned, read after done is closed
	stopped  atomic.Bool
	stop     sync.Once
}

func embeddedDuration(vars map[string]string, name string) (time.Duration, error) {
	v := valueOf(Embedded, vars, name)
	d, err := yamlconf.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("proxy.vars.%s: %w", name, err)
	}
	return d, nil
}

func startEmbedded(cfg Config) (Proxy, error) {
	if len(cfg.Origins) == 0 {
		return nil, errors.New("embedded proxy: no origins")
	}
	var errs []error
	durs := map[string]time.Duration{}
	for _, name := range []string{"idle_timeout", "connect_timeout", "tls_handshake_timeout", "read_timeout", "client_idle_timeout"} {
		d, err := embeddedDuration(cfg.Vars, name)
		errs = append(errs, err)
		durs[name] = d
	}
	maxIdle, err := strconv.Atoi(valueOf(Embedded, cfg.Vars, "max_idle_conns"))
	if err != nil || maxIdle < 0 {
		errs = append(errs, fmt.Errorf("proxy.vars.max_idle_conns: %q is not a count >= 0", cfg.Vars["max_idle_conns"]))
	}
	keep := valueOf(Embedded, cfg.Vars, "keepalive")
	if keep != "on" && keep != "off" {
		errs = append(errs, fmt.Errorf("proxy.vars.keepalive: %q is not allowed; allowed: on, off", keep))
	}
	retry := valueOf(Embedded, cfg.Vars, "retry_unsafe")
	if retry != "on" && retry != "off" {
		errs = append(errs, fmt.Errorf("proxy.vars.retry_unsafe: %q is not allowed; allowed: on, off", retry))
	}
	proto := valueOf(Embedded, cfg.Vars, "upstream_proto")
	if proto != "h1" && proto != "h2c" {
		errs = append(errs, fmt.Errorf("proxy.vars.upstream_proto: %q is not allowed; allowed: h1, h2c", proto))
	}
	clientProto := valueOf(Embedded, cfg.Vars, "client_proto")
	if clientProto != "h1" && clientProto != "h2c" {
		errs = append(errs, fmt.Errorf("proxy.vars.client_proto: %q is not allowed; allowed: h1, h2c", clientProto))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: durs["connect_timeout"]}).DialContext,
		MaxIdleConnsPerHost:   maxIdle,
		IdleConnTimeout:       durs["idle_timeout"],
		TLSHandshakeTimeout:   durs["tls_handshake_timeout"],
		ResponseHeaderTimeout: durs["read_timeout"],
		DisableKeepAlives:     keep == "off",
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, // origins use generated certificates
		ForceAttemptHTTP2:     false,
	}
	if proto == "h2c" { // Go's own HTTP/2 to the origin, pooled: IdleConnTimeout applies to it too
		tr.Protocols = new(http.Protocols)
		if cfg.OriginTLS {
			tr.Protocols.SetHTTP2(true) // over TLS: h2 by ALPN
		} else {
			tr.Protocols.SetUnencryptedHTTP2(true)
		}
	}
	scheme := "http"
	if cfg.OriginTLS {
		scheme = "https"
	}
	targets := make([]*url.URL, len(cfg.Origins))
	for i, o := range cfg.Origins {
		targets[i] = &url.URL{Scheme: scheme, Host: o}
	}
	p := &embeddedProxy{tr: tr, done: make(chan struct{})}
	if cfg.RunDir != "" {
		p.logPath = filepath.Join(cfg.RunDir, "error.log")
		if p.logf, err = os.Create(p.logPath); err != nil {
			return nil, err
		}
	}
	var next atomic.Uint64
	var rt http.RoundTripper = tr
	if retry == "on" {
		rt = resend{tr}
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[next.Add(1)%uint64(len(targets))])
			r.Out.Host = r.In.Host
		},
		Transport: rt,
		ErrorLog:  nil,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status := http.StatusBadGateway
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			p.log("%s proxy error: %s %s: %v -> %d", time.Now().Format(time.RFC3339Nano), r.Method, r.URL.Path, err, status)
			w.WriteHeader(status)
		},
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		p.closeLog()
		return nil, fmt.Errorf("embedded proxy: %w", err)
	}
	p.url = "http://" + ln.Addr().String()
	var h http.Handler = rp
	if retry == "on" {
		h = replayable(rp)
	}
	p.srv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: durs["client_idle_timeout"],
		ErrorLog: log.New(io.Discard, "", 0)}
	if clientProto == "h2c" { // HTTP/2 with prior knowledge from the client, beside HTTP/1.1
		p.srv.Protocols = new(http.Protocols)
		p.srv.Protocols.SetHTTP1(true)
		p.srv.Protocols.SetUnencryptedHTTP2(true)
	}
	go func() {
		defer close(p.done)
		p.serveErr = p.srv.Serve(ln)
	}()
	return p, nil
}

// maxReplayBody is the largest request body retry_unsafe keeps to send again.
const maxReplayBody = 1 << 20

// replayable keeps each request's body so it can be sent again: read whole (up to
// maxReplayBody) and given a GetBody — what Go's own error asks for ("define Request.GetBody
// to avoid this error"). Go's HTTP/2 transport then sends again, by itself, a stream the origin
// refused (REFUSED_STREAM) or left unprocessed (above a GOAWAY's last stream id); resend does
// the rest. A larger body is streamed as before, and not sent again.
func replayable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength <= maxReplayBody {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxReplayBody+1))
			switch {
			case err != nil:
				http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
				return
			case len(body) > maxReplayBody: // a chunked body past the bound: stream the rest
				r.Body = struct {
					io.Reader
					io.Closer
				}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
			default:
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			}
		}
		next.ServeHTTP(w, r)
	})
}

// resend is retry_unsafe's transport: a request of any method whose pooled (reused) upstream
// connection failed before any response came is sent again, once, when its body can be —
// what nginx's `proxy_next_upstream ... non_idempotent` and HAProxy's `retry-on
// empty-response` do. Go's HTTP/1 transport does that itself only for idempotent requests,
// and not at all once part of the body was written.
type resend struct{ rt http.RoundTripper }

func (t resend) RoundTrip(r *http.Request) (*http.Response, error) {
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	resp, err := t.rt.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
	hasBody := r.Body != nil && r.Body != http.NoBody
	if err == nil || !reused || hasBody && r.GetBody == nil || r.Context().Err() != nil {
		return resp, err
	}
	again := r.Clone(r.Context())
	if hasBody {
		if again.Body, err = r.GetBody(); err != nil {
			return nil, err
		}
	}
	return t.rt.RoundTrip(again)
}

func (p *embeddedProxy) log(format string, args ...any) {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if p.logf != nil {
		fmt.Fprintf(p.logf, format+"\n", args...)
	}
}

func (p *embeddedProxy) closeLog() {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if p.logf != nil {
		p.logf.Close()
		p.logf = nil
	}
}

func (p *embeddedProxy) URL() string { return p.url }

// Wait returns an error when the proxy's server stops serving without Stop.
func (p *embeddedProxy) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-p.done:
		if p.stopped.Load() {
			return nil
		}
		return fmt.Errorf("embedded proxy stopped serving: %w", p.serveErr)
	}
}

func (p *embeddedProxy) Stop() error {
	p.stopped.Store(true)
	p.stop.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := p.srv.Shutdown(ctx); err != nil {
			p.srv.Close()
		}
		<-p.done
		p.tr.CloseIdleConnections()
		p.closeLog()
	})
	return nil
}

func (p *embeddedProxy) LogCounts() (map[string]int64, error) {
	if p.logPath == "" {
		return nil, nil
	}
	return countPatterns([]string{p.logPath}, embeddedPatterns)
}
