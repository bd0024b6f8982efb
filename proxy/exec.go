package proxy

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/gatecrash/gatecrash/internal/files"
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
	// files are more templates (in templates/), rendered next to the config without their
	// ".tmpl" (a kind whose config is several files).
	files []string
	// flushDelay is how long the kind takes to write its log lines (Traffic Server buffers
	// them for up to a second): Stop waits that long before it signals.
	flushDelay time.Duration
	// noOriginTLS says the kind cannot connect to origins over TLS.
	noOriginTLS string
	// oneOrigin says why the kind forwards to one origin only (it cannot balance replicas).
	oneOrigin string
	// privateLogs, when set, is the kind's log folder (relative to the run folder) for a
	// proxy that reads its config and writes its logs after dropping root, as Traffic Server
	// does: it reads a copy of its config in the private temp dir (etc/), which that user
	// owns, and logs there (log/); the run folder links to the logs while the proxy runs and
	// gets a copy when it stops.
	privateLogs string
	// versionArgs print the binary's version.
	versionArgs []string
	// argVars are the variables args reads (not the template).
	argVars []string
	// prepare, when set, readies the run folder and temp dir before the process starts.
	prepare func(d *templateData, confDir string) error
	// sidecar, when set, is a helper started with the proxy, in its process group, that
	// writes the proxy's log to sidecar.log (Varnish logs to shared memory, not to a file);
	// attached reports whether it is reading yet.
	sidecar *sidecarDef
}

// sidecarDef is a helper process of a proxy kind.
type sidecarDef struct {
	binary   string
	pkg      string
	args     func(d *templateData) []string
	log      string
	attached func(pid int, d *templateData) bool
}

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
	// Vars are the variant's variables; read them with {{var "name"}} (the kind's default
	// when unset) or {{var "name" "default"}}.
	Vars map[string]string
	kind Kind // whose defaults {{var "name"}} takes
}

type originData struct{ Addr, Host, Port string }

func templateFuncs(d *templateData) template.FuncMap {
	return template.FuncMap{
		// var reads a variable: {{var "name"}} is its value or the kind's default (the kind's
		// record in settings.go), {{var "name" "default"}} gives the default itself.
		"var": func(name string, def ...string) (string, error) {
			switch len(def) {
			case 0:
				v, ok := defaultOf(d.kind, name)
				if !ok {
					return "", fmt.Errorf("%s has no variable %s with a default: write {{var %q \"DEFAULT\"}}", d.kind, name, name)
				}
				return varOr(d.Vars, name, v), nil
			case 1:
				return varOr(d.Vars, name, def[0]), nil
			}
			return "", fmt.Errorf("{{var %q ...}}: a name and at most one default", name)
		},
		// settings lists the kind's variables, each line behind prefix (the config's comment
		// mark): its value in this run, its default, and the directive it sets.
		"settings": func(prefix string) string { return settingsComment(d.kind, d.Vars, prefix) },
		// seconds turns a duration ("1500ms") into whole seconds, rounded up, at least 1 (for
		// directives that only take seconds, like Apache's ttl); ms into whole milliseconds;
		// varnishtime into VCL's "3.5s".
		"seconds":     durationFunc(secondsUp),
		"ms":          durationFunc(millis),
		"varnishtime": durationFunc(func(d time.Duration) string { return fracSeconds(d) + "s" }),
		"root":        func() bool { return os.Geteuid() == 0 },
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
		Dir: dir, LogDir: logDir, Vars: cfg.Vars, kind: def.kind}
	for _, o := range cfg.Origins {
		h, p, err := net.SplitHostPort(o)
		if err != nil {
			return "", nil, fmt.Errorf("origin address %q: %w", o, err)
		}
		d.Origins = append(d.Origins, originData{Addr: o, Host: h, Port: p})
	}
	conf, err := renderFile(d, def.template, cfg.Template)
	return conf, d, err
}

// renderFile renders the built-in template name (in templates/), or the user's file when
// given, with d.
func renderFile(d *templateData, name, userFile string) (string, error) {
	var src []byte
	var err error
	if userFile != "" {
		if src, err = files.Read(userFile, "proxy template", MaxTemplateSize, nil); err != nil {
			return "", err
		}
		name = userFile
	} else if src, err = templateFS.ReadFile("templates/" + name); err != nil {
		return "", err
	}
	t, err := template.New(name).Funcs(templateFuncs(d)).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return "", fmt.Errorf("parsing proxy template %s: %w", name, err)
	}
	for _, tt := range t.Templates() {
		if err := checkRanges(tt.Tree.Root); err != nil {
			return "", fmt.Errorf("proxy template %s: %w", name, err)
		}
	}
	b := &cappedBuffer{max: MaxTemplateSize}
	if err := t.Execute(b, d); err != nil {
		return "", fmt.Errorf("rendering proxy template %s: %w", name, err)
	}
	return b.String(), nil
}

// MaxTemplateSize bounds a proxy template and the config it renders (a real one is a few
// kilobytes; /dev/zero or a range over a huge number must not fill the memory).
const MaxTemplateSize = 4 << 20

// maxRangeCount bounds a range over a constant number in a proxy template: with no output in
// its body it would spin without bound, which the output cap cannot see.
const maxRangeCount = 100000

// checkRanges refuses a range over a constant number larger than maxRangeCount.
func checkRanges(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkRanges(c); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		if n.Pipe != nil {
			for _, cmd := range n.Pipe.Cmds {
				for _, arg := range cmd.Args {
					if num, ok := arg.(*parse.NumberNode); ok && (!num.IsInt || num.Int64 > maxRangeCount) {
						return fmt.Errorf("line %d: range over %s: at most %d iterations", n.Line, num.Text, maxRangeCount)
					}
				}
			}
		}
		if err := checkRanges(n.List); err != nil {
			return err
		}
		return checkRanges(n.ElseList)
	case *parse.IfNode:
		if err := checkRanges(n.List); err != nil {
			return err
		}
		return checkRanges(n.ElseList)
	case *parse.WithNode:
		if err := checkRanges(n.List); err != nil {
			return err
		}
		return checkRanges(n.ElseList)
	}
	return nil
}

// cappedBuffer is a bytes.Buffer that refuses to grow past max: template execution stops at
// the first write that fails.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.Len()+len(p) > c.max {
		return 0, fmt.Errorf("the rendered config is over %d bytes", c.max)
	}
	return c.Buffer.Write(p)
}

// FindBinary returns the path of a kind's binary: the given path, or the name on PATH or in
// /usr/sbin.
func FindBinary(k Kind, given string) (string, error) {
	def, ok := kinds[k]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownKind, k)
	}
	if given != "" {
		p, err := exec.LookPath(given)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrBinaryNotFound, given, err)
		}
		// A relative path (./nginx) is made absolute here: the proxy runs in its own folder.
		if strings.ContainsRune(given, filepath.Separator) {
			if p, err = filepath.Abs(p); err != nil {
				return "", fmt.Errorf("%w: %s: %v", ErrBinaryNotFound, given, err)
			}
		}
		return p, nil
	}
	if p, err := lookBinary(def.binary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s is not installed (apt-get install %s) or give proxy.binary", ErrBinaryNotFound, def.binary, def.pkg)
}

// Missing says why k cannot be started here (its binary is not installed: what to install),
// or nil when it can — the embedded proxy and an external one always can. End-to-end tests
// ask it through e2e.Need.
func (k Kind) Missing() error {
	if k == Embedded || k == External {
		return nil
	}
	_, err := FindBinary(k, "")
	return err
}

// SupportsOriginTLS says whether kind k can connect to its origins over TLS, and if not, why.
func SupportsOriginTLS(k Kind) (bool, string) {
	def, ok := kinds[k]
	if !ok || def.noOriginTLS == "" {
		return true, ""
	}
	return false, def.noOriginTLS
}

// BalancesOrigins says whether kind k spreads requests over several origins (origin.replicas
// > 1), and if not, why.
func BalancesOrigins(k Kind) (bool, string) {
	def, ok := kinds[k]
	if !ok || def.oneOrigin == "" {
		return true, ""
	}
	return false, def.oneOrigin
}

// Version returns the installed version of kind k as its binary prints it ("nginx/1.22.1"),
// or an error when it is not installed.
func Version(k Kind, binary string) (string, error) {
	if k == Embedded {
		return "Go " + runtime.Version() + " net/http/httputil.ReverseProxy", nil
	}
	bin, err := FindBinary(k, binary)
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bin, kinds[k].versionArgs...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v", bin, strings.Join(kinds[k].versionArgs, " "), err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if m := versionRe.FindString(line); m != "" && !strings.HasPrefix(line, "Copyright") {
			return strings.TrimSpace(m), nil
		}
	}
	return strings.TrimSpace(string(out)), nil
}

// versionRe finds "name/1.2.3", "name 1.2.3" or "v1.2.3" in a version line.
var versionRe = regexp.MustCompile(`[A-Za-z][A-Za-z0-9 _-]*?[ /]v?\d+\.\d+(\.\d+)?|v\d+\.\d+\.\d+|[a-z]+-\d+\.\d+\.\d+`)

// lookBinary finds name on PATH, in /usr/sbin or in /usr/bin.
func lookBinary(name string) (string, error) {
	var err error
	for _, c := range []string{name, "/usr/sbin/" + name, "/usr/bin/" + name} {
		var p string
		if p, err = exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", err
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
	// side is the kind's helper process (nil: none), sideOut its output, sideExited closed
	// when it has ended.
	side       *exec.Cmd
	sideOut    *os.File
	sideExited chan struct{}
	stopped    atomic.Bool
	stop       sync.Once
	stopErr    error
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
	if cfg.OriginTLS && def.noOriginTLS != "" {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s cannot connect to a TLS origin: %s", def.kind, def.noOriginTLS)
	}
	if len(cfg.Origins) > 1 && def.oneOrigin != "" {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s cannot spread requests over %d origins: %s", def.kind, len(cfg.Origins), def.oneOrigin)
	}
	conf, data, err := render(cfg, def, dir, logDir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	confPath := filepath.Join(logDir, def.confName)
	if err := writeConfig(def, data, confPath, conf); err != nil {
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
	if def.sidecar != nil {
		if err := p.startSidecar(data); err != nil {
			p.Stop()
			return nil, err
		}
	}
	if err := p.waitReady(ctx, cfg.Listen, cfg.ReadyTimeout); err != nil {
		p.Stop()
		return nil, err
	}
	if def.sidecar != nil {
		if err := p.waitSidecar(ctx, data, cfg.ReadyTimeout); err != nil {
			p.Stop()
			return nil, err
		}
	}
	return p, nil
}

// writeConfig writes the rendered config at confPath, and the kind's other files beside it
// (after its prepare step, which may create folders there).
func writeConfig(def kindDef, d *templateData, confPath, conf string) error {
	confDir := filepath.Dir(confPath)
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return err
	}
	if def.privateLogs != "" {
		private := filepath.Join(d.Dir, "log")
		if err := os.Mkdir(private, 0o755); err != nil {
			return err
		}
		link := filepath.Join(d.LogDir, def.privateLogs)
		if err := os.RemoveAll(link); err != nil {
			return err
		}
		if err := os.Symlink(private, link); err != nil {
			return err
		}
	}
	if def.prepare != nil {
		if err := def.prepare(d, confDir); err != nil {
			return fmt.Errorf("preparing %s's folders: %w", def.kind, err)
		}
	}
	for _, name := range def.files {
		text, err := renderFile(d, name, "")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(confDir, strings.TrimSuffix(filepath.Base(name), ".tmpl")), []byte(text), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	if def.privateLogs != "" {
		// A proxy that drops root reads its config after that, maybe from a run folder it
		// cannot reach: it reads a copy in its temp dir (runroot and config templates say so).
		return copyFiles(confDir, filepath.Join(d.Dir, "etc"))
	}
	return nil
}

// copyFiles copies the regular files of folder from into folder to (created).
func copyFiles(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// keepPrivateLogs replaces the run folder's link to a proxy's private log folder (in temp
// dir dir) with a copy of the logs, before dir is removed.
func keepPrivateLogs(dir, link string) error {
	if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := copyFiles(filepath.Join(dir, "log"), link); err != nil {
		return fmt.Errorf("keeping the proxy's logs: %w", err)
	}
	return nil
}

// startSidecar starts the kind's helper in the proxy's process group, its output in the run
// folder.
func (p *execProxy) startSidecar(d *templateData) error {
	sc := p.def.sidecar
	bin, err := lookBinary(sc.binary)
	if err != nil {
		return fmt.Errorf("%w: %s is not installed (apt-get install %s)", ErrBinaryNotFound, sc.binary, sc.pkg)
	}
	out, err := os.Create(filepath.Join(p.logDir, sc.log))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, sc.args(d)...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = out, out
	joinProcessGroup(cmd, p.cmd.Process.Pid)
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	p.side, p.sideOut, p.sideExited = cmd, out, make(chan struct{})
	go func() { cmd.Wait(); close(p.sideExited) }()
	return nil
}

// waitSidecar waits until the helper reads the proxy's log (or says why it cannot).
func (p *execProxy) waitSidecar(ctx context.Context, d *templateData, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !p.def.sidecar.attached(p.side.Process.Pid, d) {
		select {
		case <-p.sideExited:
			b, _ := os.ReadFile(filepath.Join(p.logDir, p.def.sidecar.log))
			return fmt.Errorf("%w: %s (%s's log reader) exited: %s", ErrNotReady, p.def.sidecar.binary, p.def.kind, strings.TrimSpace(string(b)))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s (%s's log reader) not attached after %v", ErrNotReady, p.def.sidecar.binary, p.def.kind, timeout)
		}
	}
	return nil
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
		if p.def.flushDelay > 0 {
			select {
			case <-p.exited:
			case <-time.After(p.def.flushDelay):
			}
		}
		signalGroup(p.cmd, false)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			signalGroup(p.cmd, true)
			<-p.exited
		}
		// Workers that outlived their master go too, and the helper.
		signalGroup(p.cmd, true)
		waitGroupGone(p.cmd, 2*time.Second)
		if p.side != nil {
			<-p.sideExited
			p.sideOut.Close()
		}
		if p.def.privateLogs != "" {
			p.stopErr = keepPrivateLogs(p.dir, filepath.Join(p.logDir, p.def.privateLogs))
		}
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
		return "", fmt.Errorf("proxy kind %q has no config template; kinds with one: %s", cfg.Kind, kindList(templateKinds()))
	}
	if cfg.Template == "" {
		if err := CheckVars(nil, cfg.Vars); err != nil {
			return "", err
		}
	}
	conf, _, err := render(cfg, def, dir, logDir)
	return conf, err
}
