package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// AppKind names a real application server gatecrash can start as the origin, in place of its
// fault server: the app servers whose keep-alive defaults cause the races in production.
type AppKind string

// App server kinds.
const (
	Uvicorn  AppKind = "uvicorn"
	Gunicorn AppKind = "gunicorn"
	Node     AppKind = "node"
	// NginxOrigin is nginx as the origin (origin.kind nginx), not as the proxy: an event-loop
	// server whose idle close is its keepalive_timeout.
	NginxOrigin AppKind = "nginx"
)

// AppKinds lists every app server kind.
func AppKinds() []AppKind { return []AppKind{Uvicorn, Gunicorn, Node, NginxOrigin} }

// AppKindNames lists the app server kinds' names for messages: "uvicorn, gunicorn, node, nginx".
func AppKindNames() string {
	names := make([]string, 0, len(AppKinds()))
	for _, k := range AppKinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// AppConfig is everything StartApp needs.
type AppConfig struct {
	Kind AppKind
	// Binary overrides the interpreter (/usr/bin/python3 for uvicorn, gunicorn's script,
	// node, nginx).
	Binary string
	// Vars: idle_timeout (every kind; whole seconds for uvicorn and gunicorn), worker_class,
	// workers, threads (gunicorn).
	Vars map[string]string
	// Listen is the app's address ("127.0.0.1:port").
	Listen string
	// RunDir receives the app file and the app's output.
	RunDir string
	// ReadyTimeout bounds start-up (default 15s: Python takes its time).
	ReadyTimeout time.Duration
	// Log receives a line when an app server left running in RunDir by an earlier, killed
	// gatecrash is found and stopped. Nil discards.
	Log io.Writer
}

// appVar is how a variable an app server reads is checked; which kinds read it, and their
// defaults, are in their records (appSettings).
type appVar struct {
	check func(AppKind, string) error
}

var appVars = map[string]appVar{
	"idle_timeout": {check: checkAppIdle},
	"worker_class": {check: func(_ AppKind, v string) error {
		if v != "sync" && v != "gthread" {
			return fmt.Errorf("%q is not allowed; allowed: sync (closes after every response), gthread (keeps connections alive)", v)
		}
		return nil
	}},
	"workers": {check: checkAppCount},
	"threads": {check: checkAppCount},
}

func checkAppCount(_ AppKind, v string) error {
	if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 64 {
		return fmt.Errorf("%q is not allowed; allowed: 1 to 64", v)
	}
	return nil
}

// checkAppIdle checks an idle timeout as the kind can take it: uvicorn's --timeout-keep-alive
// and gunicorn's --keep-alive are whole seconds, Node's keepAliveTimeout and nginx's
// keepalive_timeout (as gatecrash writes it) milliseconds.
func checkAppIdle(k AppKind, v string) error {
	d, err := yamlconf.ParseDuration(v)
	if err != nil {
		return err
	}
	switch k {
	case Uvicorn, Gunicorn:
		if d < time.Second || d%time.Second != 0 {
			return fmt.Errorf("%s is not allowed: %s takes whole seconds (1s or more)", v, k)
		}
	case Node, NginxOrigin:
		if d < time.Millisecond || d%time.Millisecond != 0 {
			return fmt.Errorf("%s is not allowed: %s takes whole milliseconds (1ms or more)", v, k)
		}
	}
	return nil
}

// ParseAppKind checks an app server kind's name.
func ParseAppKind(s string) (AppKind, error) {
	for _, k := range AppKinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown app server %q; allowed: %s", s, AppKindNames())
}

// CheckAppVars checks an app server's variables: names it reads, values it takes. Every
// problem is a *VarError naming the variable.
func CheckAppVars(k AppKind, vars map[string]string) error {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		def := appVars[name]
		if _, ok := appSettings[k][name]; !ok {
			known := slices.Sorted(maps.Keys(appSettings[k]))
			errs = append(errs, &VarError{Name: name, Msg: fmt.Sprintf("not read by %s; it reads: %s", k, strings.Join(known, ", "))})
			continue
		}
		if v := strings.TrimSpace(vars[name]); v != "" {
			if err := def.check(k, v); err != nil {
				errs = append(errs, &VarError{Name: name, Msg: err.Error()})
			}
		}
	}
	return errors.Join(errs...)
}

// AppIdleTimeout returns the keep-alive timeout app server k runs with given its vars: the
// idle_timeout var or the server's default, in whole seconds (rounded up, at least 1) where
// the server takes only those (uvicorn, gunicorn). False for a kind it does not know.
func AppIdleTimeout(k AppKind, vars map[string]string) (time.Duration, bool) {
	v, ok := appValue(k, vars, "idle_timeout")
	if !ok {
		return 0, false
	}
	if k == Uvicorn || k == Gunicorn {
		v = inUnit(v, secondsUp) + "s"
	}
	d, err := yamlconf.ParseDuration(v)
	return d, err == nil
}

// appDefs says how to run each app server; the "template" is the app file, written to the run
// folder as confName.
var appDefs = map[AppKind]kindDef{
	Uvicorn: {
		kind: Kind(Uvicorn), binary: "/usr/bin/python3", template: "gatecrash_asgi.py", confName: "gatecrash_asgi.py",
		pkg: "python3-uvicorn",
		args: func(conf string, d *templateData) []string {
			return []string{"-m", "uvicorn", "--app-dir", filepath.Dir(conf), "--host", d.ListenHost, "--port", d.ListenPort,
				"--timeout-keep-alive", inUnit(appVal(Uvicorn, d.Vars, "idle_timeout"), secondsUp),
				"--no-access-log", "gatecrash_asgi:app"}
		},
		env:  func(*templateData) []string { return []string{"PYTHONDONTWRITEBYTECODE=1"} },
		logs: []string{"stdout.log"},
	},
	Gunicorn: {
		kind: Kind(Gunicorn), binary: "gunicorn", template: "gatecrash_wsgi.py", confName: "gatecrash_wsgi.py", pkg: "gunicorn",
		args: func(conf string, d *templateData) []string {
			class := appVal(Gunicorn, d.Vars, "worker_class")
			// More than one thread turns a sync worker into gthread: sync gets one.
			threads := "1"
			if class == "gthread" {
				threads = appVal(Gunicorn, d.Vars, "threads")
			}
			return []string{"--chdir", filepath.Dir(conf), "--bind", d.Listen, "--worker-class", class,
				"--workers", appVal(Gunicorn, d.Vars, "workers"), "--threads", threads,
				"--keep-alive", inUnit(appVal(Gunicorn, d.Vars, "idle_timeout"), secondsUp),
				"gatecrash_wsgi:app"}
		},
		env:  func(*templateData) []string { return []string{"PYTHONDONTWRITEBYTECODE=1"} },
		logs: []string{"stdout.log"},
	},
	Node: {
		kind: Kind(Node), binary: "node", template: "gatecrash_origin.js", confName: "gatecrash_origin.js", pkg: "nodejs",
		args: func(conf string, d *templateData) []string {
			return []string{conf, d.ListenHost, d.ListenPort, inUnit(appVal(Node, d.Vars, "idle_timeout"), millis)}
		},
		logs: []string{"stdout.log"},
	},
	NginxOrigin: {
		kind: Kind(NginxOrigin), binary: "nginx", template: "gatecrash_nginx_origin.conf", confName: "nginx-origin.conf",
		pkg: "nginx-light",
		args: func(conf string, d *templateData) []string {
			return []string{"-p", d.Dir, "-c", conf, "-e", filepath.Join(d.LogDir, "error.log")}
		},
		logs: []string{"error.log"},
	},
}

// FindApp returns the command that runs k (the given binary, or the kind's own), or an error
// that says what to install — also when the interpreter is there but the server is not.
func FindApp(k AppKind, given string) (string, error) {
	def, ok := appDefs[k]
	if !ok {
		_, err := ParseAppKind(string(k))
		return "", err
	}
	bin := given
	if bin == "" {
		bin = def.binary
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		if p, err2 := exec.LookPath("/usr/bin/" + bin); err2 == nil {
			path, err = p, nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s is not installed (apt-get install %s) or give origin.binary", ErrBinaryNotFound, bin, def.pkg)
	}
	if k == Uvicorn {
		// The interpreter is there; is uvicorn? (Debian's python3-uvicorn belongs to
		// /usr/bin/python3, not to a python3 earlier on PATH.)
		if out, err := exec.Command(path, "-c", "import uvicorn").CombinedOutput(); err != nil {
			return "", fmt.Errorf("%w: %s cannot import uvicorn (apt-get install python3-uvicorn, or give origin.binary "+
				"as a python3 that has it): %s", ErrBinaryNotFound, path, strings.TrimSpace(string(out)))
		}
	}
	return path, nil
}

// Missing says why app server k cannot be started here (what to install), or nil when it can.
// End-to-end tests ask it through e2e.Need.
func (k AppKind) Missing() error {
	_, err := FindApp(k, "")
	return err
}

// StartApp starts the app server cfg describes, in its own process group, and returns once it
// accepts connections. Its URL is its own address; LogCounts reports nothing (an app server's
// log has no upstream errors to count).
func StartApp(ctx context.Context, cfg AppConfig) (Proxy, error) {
	if err := CheckAppVars(cfg.Kind, cfg.Vars); err != nil {
		return nil, err
	}
	path, err := FindApp(cfg.Kind, cfg.Binary)
	if err != nil {
		return nil, err
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 15 * time.Second
	}
	if cfg.RunDir != "" {
		if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
			return nil, err
		}
	}
	def := appDefs[cfg.Kind]
	def.binary = path
	// The app's template reads its variables from Vars: every one the kind has is there, its
	// default when not given (the defaults are in appSettings only).
	vars := maps.Clone(cfg.Vars)
	if vars == nil {
		vars = map[string]string{}
	}
	for name := range appSettings[cfg.Kind] {
		vars[name] = appVal(cfg.Kind, cfg.Vars, name)
	}
	pc := Config{Spec: Spec{Kind: def.kind, Binary: path, Vars: vars}, Listen: cfg.Listen, RunDir: cfg.RunDir,
		ReadyTimeout: cfg.ReadyTimeout, Log: cfg.Log}
	return startProcess(ctx, pc, def)
}
