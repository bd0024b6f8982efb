package proxy

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"text/template"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

//go:embed templates/*
var templateFS embed.FS

// kindDef says how to run one kind of proxy.
type kindDef struct {
	kind     Kind
	binary   string // name on PATH (also looked up in /usr/sbin)
	template string // built-in template in templates/
	confName string // rendered config file name in the run folder
	args     func(confPath string, d *templateData) []string
	env      func(d *templateData) []string
	logs     []string // log files in the log dir to scan for patterns
	patterns []pattern
	pkg      string // Debian package, for the "not installed" message
}

var kinds = map[Kind]kindDef{
	Nginx: {
		kind: Nginx, binary: "nginx", template: "nginx.conf.tmpl", confName: "nginx.conf", pkg: "nginx-light",
		args: func(conf string, d *templateData) []string {
			return []string{"-p", d.Dir, "-c", conf, "-e", filepath.Join(d.LogDir, "error.log")}
		},
		logs: []string{"error.log"},
		patterns: []pattern{
			lit("upstream prematurely closed connection", "upstream prematurely closed connection"),
			lit("recv() failed (104: Connection reset by peer)", "recv() failed (104: Connection reset by peer)"),
			lit("writev() failed (104: Connection reset by peer)", "writev() failed (104: Connection reset by peer)"),
			lit("writev() failed (32: Broken pipe)", "writev() failed (32: Broken pipe)"),
			lit("upstream timed out (110: Connection timed out)", "upstream timed out (110: Connection timed out)"),
			lit("connect() failed (111: Connection refused)", "connect() failed (111: Connection refused)"),
			lit("no live upstreams", "no live upstreams"),
			lit("SSL_do_handshake() failed", "SSL_do_handshake() failed"),
		},
	},
	HAProxy: {
		kind: HAProxy, binary: "haproxy", template: "haproxy.cfg.tmpl", confName: "haproxy.cfg", pkg: "haproxy",
		args:     func(conf string, _ *templateData) []string { return []string{"-f", conf, "-db"} },
		logs:     []string{"stdout.log"},
		patterns: haproxyStates("SH", "SD", "SC", "sH", "sC", "sD", "CD", "cD", "CH", "cH", "SQ"),
	},
	Caddy: {
		kind: Caddy, binary: "caddy", template: "Caddyfile.tmpl", confName: "Caddyfile", pkg: "caddy",
		args: func(conf string, _ *templateData) []string {
			return []string{"run", "--config", conf, "--adapter", "caddyfile"}
		},
		env: func(d *templateData) []string {
			return []string{"HOME=" + d.Dir, "XDG_CONFIG_HOME=" + d.Dir, "XDG_DATA_HOME=" + d.Dir}
		},
		logs: []string{"stdout.log"},
		patterns: []pattern{
			{name: "reverse proxy error: EOF", re: mustRe(`"level":"error".*"error":"[^"]*EOF`)},
			{name: "reverse proxy error: connection reset", re: mustRe(`"level":"error".*connection reset by peer`)},
			{name: "reverse proxy error: timeout", re: mustRe(`"level":"error".*(timeout|deadline exceeded)`)},
			{name: "reverse proxy error: connection refused", re: mustRe(`"level":"error".*connection refused`)},
		},
	},
	Apache: {
		kind: Apache, binary: "apache2", template: "apache.conf.tmpl", confName: "apache.conf", pkg: "apache2",
		args: func(conf string, _ *templateData) []string { return []string{"-f", conf, "-DFOREGROUND"} },
		logs: []string{"error.log"},
		patterns: []pattern{
			lit("AH01102: error reading status line from remote server", "AH01102"),
			lit("AH00898: error reading from remote server", "AH00898"),
			lit("(104)Connection reset by peer", "(104)Connection reset by peer"),
			lit("(70007)The timeout specified has expired", "(70007)"),
			lit("AH01084: pass request body failed", "AH01084"),
			lit("AH00957: connect to backend failed", "AH00957"),
		},
	},
}

// haproxyStates builds patterns for HAProxy's two-letter termination states as they appear in
// httplog lines ("SH--").
func haproxyStates(states ...string) []pattern {
	out := make([]pattern, len(states))
	for i, s := range states {
		out[i] = pattern{name: "termination " + s + "--", re: mustRe(` ` + s + `-- `)}
	}
	return out
}

func mustRe(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// templateData is what a config template sees.
type templateData struct {
	// Listen is the proxy's listen address, ListenHost and ListenPort its parts.
	Listen, ListenHost, ListenPort string
	// Origins are the upstream servers.
	Origins []originData
	// OriginTLS says the origins speak TLS.
	OriginTLS bool
	// Dir is a private temp dir (pid files, temp paths); LogDir the run folder for logs.
	Dir, LogDir string
	// Vars are the variant's variables; read them with {{var "name" "default"}}.
	Vars map[string]string
}

type originData struct{ Addr, Host, Port string }

func templateFuncs(d *templateData) template.FuncMap {
	return template.FuncMap{
		"var": func(name, def string) string { return varOr(d.Vars, name, def) },
		// seconds turns a duration ("1500ms") into whole seconds, rounded up, at least 1 (for
		// directives that only take seconds, like Apache's ttl).
		"seconds": func(v string) (string, error) {
			dur, err := yamlconf.ParseDuration(v)
			if err != nil {
				return "", err
			}
			return strconv.Itoa(max(1, int(math.Ceil(dur.Seconds())))), nil
		},
		"root": func() bool { return os.Geteuid() == 0 },
	}
}

// Render renders the config for cfg and kind into a string, without starting anything; the
// temp dir and log dir are given. It is what Start writes as the proxy's config.
func render(cfg Config, def kindDef, dir, logDir string) (string, *templateData, error) {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "", nil, fmt.Errorf("listen address %q: %w", cfg.Listen, err)
	}
	d := &templateData{Listen: cfg.Listen, ListenHost: host, ListenPort: port, OriginTLS: cfg.OriginTLS,
		Dir: dir, LogDir: logDir, Vars: cfg.Vars}
	for _, o := range cfg.Origins {
		h, p, err := net.SplitHostPort(o)
		if err != nil {
			return "", nil, fmt.Errorf("origin address %q: %w", o, err)
		}
		d.Origins = append(d.Origins, originData{Addr: o, Host: h, Port: p})
	}
	var src []byte
	name := def.template
	if cfg.Template != "" {
		if src, err = os.ReadFile(cfg.Template); err != nil {
			return "", nil, fmt.Errorf("reading proxy template: %w", err)
		}
		name = cfg.Template
	} else if src, err = templateFS.ReadFile("templates/" + def.template); err != nil {
		return "", nil, err
	}
	t, err := template.New(name).Funcs(templateFuncs(d)).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return "", nil, fmt.Errorf("parsing proxy template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", nil, fmt.Errorf("rendering proxy template %s: %w", name, err)
	}
	return b.String(), d, nil
}

// FindBinary returns the path of a kind's binary: the given path, or the name on PATH or in
// /usr/sbin.
func FindBinary(k Kind, given string) (string, error) {
	def, ok := kinds[k]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownKind, k)
	}
	if given != "" {
		if _, err := exec.LookPath(given); err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrBinaryNotFound, given, err)
		}
		return given, nil
	}
	for _, c := range []string{def.binary, "/usr/sbin/" + def.binary, "/usr/bin/" + def.binary} {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s is not installed (apt-get install %s) or give proxy.binary", ErrBinaryNotFound, def.binary, def.pkg)
}

// execProxy is a proxy process in its own process group.
type execProxy struct {
	def     kindDef
	url     string
	cmd     *exec.Cmd
	dir     string // private temp dir, removed by Stop
	logDir  string
	out     *os.File
	exited  chan struct{}
	waitErr error // how the process ended, read after exited is closed
	stopped atomic.Bool
	stop    sync.Once
	stopErr error
}

func startExec(ctx context.Context, cfg Config, def kindDef) (Proxy, error) {
	bin, err := FindBinary(def.kind, cfg.Binary)
	if err != nil {
		return nil, err
	}
	cfg.Binary = bin
	return startProcess(ctx, cfg, def)
}

// startProcess starts def's process (the binary at cfg.Binary) with its config rendered into
// the run folder, and waits until it accepts connections on cfg.Listen.
func startProcess(ctx context.Context, cfg Config, def kindDef) (Proxy, error) {
	bin := cfg.Binary
	dir, err := os.MkdirTemp("", "gatecrash-"+string(def.kind)+"-")
	if err != nil {
		return nil, err
	}
	// Private to us; when we are root, nginx's and Apache's workers drop to "nobody" and get
	// the folder (their temp files live there) — no one else does.
	if err := privateDir(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logDir := cfg.RunDir
	if logDir == "" {
		logDir = dir
	} else if logDir, err = filepath.Abs(logDir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if msg, err := stopLeftover(logDir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("stopping a proxy left by an earlier run: %w", err)
	} else if msg != "" && cfg.Log != nil {
		fmt.Fprintln(cfg.Log, msg)
	}
	conf, data, err := render(cfg, def, dir, logDir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	confPath := filepath.Join(logDir, def.confName)
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	out, err := os.Create(filepath.Join(logDir, "stdout.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, def.args(confPath, data)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	ownProcessGroup(cmd)
	if def.env != nil {
		cmd.Env = append(os.Environ(), def.env(data)...)
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &execProxy{def: def, url: "http://" + cfg.Listen, cmd: cmd, dir: dir, logDir: logDir, out: out, exited: make(chan struct{})}
	if err := writePidFile(logDir, pidRecord{Kind: def.kind, PID: cmd.Process.Pid, Conf: confPath, Temp: dir}); err != nil {
		go func() { p.waitErr = cmd.Wait(); close(p.exited) }()
		p.Stop()
		return nil, fmt.Errorf("writing the proxy's pid file: %w", err)
	}
	go func() { p.waitErr = cmd.Wait(); close(p.exited) }()
	if err := p.waitReady(ctx, cfg.Listen, cfg.ReadyTimeout); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls until the proxy accepts a TCP connection on listen.
func (p *execProxy) waitReady(ctx context.Context, listen string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", listen, 200*time.Millisecond)
		if err == nil {
			c.Close()
			// Something listens; make sure it is this proxy and it stays up (a proxy that
			// failed to bind exits at once, and the port might belong to someone else).
			select {
			case <-p.exited:
				return p.exitedEarly()
			case <-time.After(50 * time.Millisecond):
				return nil
			}
		}
		select {
		case <-p.exited:
			return p.exitedEarly()
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s (%s) not listening on %s after %v: %s", ErrNotReady, p.def.kind, p.cmd.Path, listen, timeout, p.tail())
		}
	}
}

// exitedEarly says how the proxy ended during start-up, with its last output — or, when it
// printed nothing, that the binary may not be the proxy at all.
func (p *execProxy) exitedEarly() error {
	out := p.tail()
	if out == "" {
		out = fmt.Sprintf("it printed nothing; is %s a %s binary? (give the right one with proxy.binary, origin.binary or --proxy-binary)",
			p.cmd.Path, p.def.kind)
	}
	status := "exit status 0"
	if p.waitErr != nil {
		status = p.waitErr.Error()
	}
	return fmt.Errorf("%w: %s (%s) exited during start-up (%s): %s", ErrNotReady, p.def.kind, p.cmd.Path, status, out)
}

// tail returns the last lines the proxy wrote, for error messages.
func (p *execProxy) tail() string {
	var b []byte
	for _, name := range append([]string{"stdout.log"}, p.def.logs...) {
		if c, err := os.ReadFile(filepath.Join(p.logDir, name)); err == nil {
			b = append(b, c...)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

func (p *execProxy) URL() string { return p.url }

// Wait returns an error when the process exits without Stop: a crash, a kill from outside.
func (p *execProxy) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-p.exited:
		if p.stopped.Load() {
			return nil
		}
		return fmt.Errorf("%s exited during the run (%v): %s", p.def.binary, p.waitErr, p.tail())
	}
}

// Stop ends the process group (SIGTERM, then SIGKILL after 5s) and removes the temp dir.
func (p *execProxy) Stop() error {
	p.stopped.Store(true)
	p.stop.Do(func() {
		signalGroup(p.cmd, false)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			signalGroup(p.cmd, true)
			<-p.exited
		}
		// Workers that outlived their master (they should not) go too.
		signalGroup(p.cmd, true)
		p.out.Close()
		if err := os.RemoveAll(p.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.stopErr = err
		}
		os.Remove(filepath.Join(p.logDir, pidFileName))
	})
	return p.stopErr
}

func (p *execProxy) LogCounts() (map[string]int64, error) {
	files := make([]string, len(p.def.logs))
	for i, name := range p.def.logs {
		files[i] = filepath.Join(p.logDir, name)
	}
	return countPatterns(files, p.def.patterns)
}

// Render renders the config template of proxy kind cfg.Kind (nginx, haproxy, caddy, apache)
// as Start would, for a proxy run elsewhere — in a container, or the staging proxy itself:
// dir stands for its private temp dir (pid file, temp paths) and logDir for its log folder,
// as that proxy will see them.
func Render(cfg Config, dir, logDir string) (string, error) {
	def, ok := kinds[cfg.Kind]
	if !ok {
		return "", fmt.Errorf("proxy kind %q has no config template; kinds with one: nginx, haproxy, caddy, apache", cfg.Kind)
	}
	if cfg.Template == "" {
		if err := CheckVars(nil, cfg.Vars); err != nil {
			return "", err
		}
	}
	conf, _, err := render(cfg, def, dir, logDir)
	return conf, err
}
