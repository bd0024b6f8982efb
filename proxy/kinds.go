package proxy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"time"
)

// kinds are the proxies gatecrash runs from a config template. A new kind is an entry here,
// its template(s) in templates/ and its variables' record in kindSettings (settings.go): the
// directive each sets, its default, its unit's limits.
var kinds = map[Kind]kindDef{
	Nginx: {
		versionArgs: []string{"-v"},
		kind:        Nginx, binary: "nginx", template: "nginx.conf.tmpl", confName: "nginx.conf", pkg: "nginx-light",
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
		versionArgs: []string{"-v"},
		kind:        HAProxy, binary: "haproxy", template: "haproxy.cfg.tmpl", confName: "haproxy.cfg", pkg: "haproxy",
		args:     func(conf string, _ *templateData) []string { return []string{"-f", conf, "-db"} },
		logs:     []string{"stdout.log"},
		patterns: haproxyStates("SH", "SD", "SC", "sH", "sC", "sD", "CD", "cD", "CH", "cH", "SQ"),
	},
	Caddy: {
		versionArgs: []string{"version"},
		kind:        Caddy, binary: "caddy", template: "Caddyfile.tmpl", confName: "Caddyfile", pkg: "caddy",
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
		versionArgs: []string{"-v"},
		kind:        Apache, binary: "apache2", template: "apache.conf.tmpl", confName: "apache.conf", pkg: "apache2",
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
	Varnish: {
		versionArgs: []string{"-V"},
		kind:        Varnish, binary: "varnishd", template: "varnish.vcl.tmpl", confName: "varnish.vcl", pkg: "varnish",
		args: func(conf string, d *templateData) []string {
			return []string{"-F", "-j", "none", "-n", filepath.Join(d.Dir, "varnish"), "-a", d.Listen, "-f", conf,
				"-s", "malloc,32m",
				"-p", "backend_idle_timeout=" + inUnit(valueOf(Varnish, d.Vars, "idle_timeout"), fracSeconds),
				"-p", "timeout_idle=" + inUnit(valueOf(Varnish, d.Vars, "client_idle_timeout"), fracSeconds),
				"-p", "thread_pools=1", "-p", "thread_pool_min=10"}
		},
		argVars:     []string{"idle_timeout", "client_idle_timeout"},
		noOriginTLS: "open-source Varnish has no backend TLS",
		logs:        []string{"varnishlog.log"},
		sidecar: &sidecarDef{
			binary: "varnishlog", pkg: "varnish", log: "varnishlog.log",
			args: func(d *templateData) []string {
				return []string{"-n", filepath.Join(d.Dir, "varnish"), "-g", "raw", "-i", "FetchError", "-t", "off"}
			},
			attached: func(pid int, d *templateData) bool { return mapsFile(pid, filepath.Join(d.Dir, "varnish")) },
		},
		patterns: []pattern{{name: "FetchError ", re: mustRe(`FetchError\s+[bc]\s+(.*)$`), capture: true}},
	},
	TrafficServer: {
		versionArgs: []string{"--version"},
		kind:        TrafficServer, binary: "traffic_server", template: "trafficserver/records.config.tmpl",
		confName: "trafficserver/records.config", pkg: "trafficserver",
		files: []string{"trafficserver/remap.config.tmpl", "trafficserver/storage.config.tmpl", "trafficserver/ip_allow.yaml.tmpl",
			"trafficserver/logging.yaml.tmpl", "trafficserver/runroot.yaml.tmpl"},
		prepare:     prepareTrafficServer,
		privateLogs: "trafficserver/log",
		oneOrigin: "its built-in config maps to one origin (balancing needs parent selection, whose " +
			"mark-down and retries would change what the scenarios measure); use origin.replicas: 1",
		flushDelay: 2500 * time.Millisecond, // max_secs_per_buffer and periodic_tasks_interval 1
		args: func(conf string, _ *templateData) []string {
			return []string{"--run-root=" + filepath.Join(filepath.Dir(conf), "runroot.yaml")}
		},
		logs: []string{"trafficserver/log/error.log", "trafficserver/log/diags.log"},
		patterns: []pattern{
			{name: "CONNECT: attempt fail ", re: mustRe(`CONNECT: attempt fail (\[[A-Z_]+\])`), capture: true},
			lit("could not connect", "could not connect"),
		},
	},
	Nghttpx: {
		versionArgs: []string{"--version"},
		kind:        Nghttpx, binary: "nghttpx", template: "nghttpx.conf.tmpl", confName: "nghttpx.conf", pkg: "nghttpx (Debian: nghttp2-proxy)",
		args: func(conf string, _ *templateData) []string { return []string{"--conf=" + conf} },
		// nghttpx says why a backend request failed only at log-level INFO (some 35 lines per
		// request): the error log has connect failures, the access log the statuses it made.
		logs: []string{"error.log", "access.log"},
		patterns: []pattern{
			// "WARN (shrpx_http_downstream_connection.cc:1532) [DCONN:0x...] Backend connect failed; addr=...: errno=111"
			{name: "", re: mustRe(`(?:WARN|ERROR) \([^)]*\) (?:\[[A-Z_]+:0x[0-9a-f]+\] )?([^;:]+)`), capture: true},
			{name: "access log: ", re: mustRe(`" (50[234]) \d+ backend=`), capture: true},
		},
	},
	NodeGateway: {
		versionArgs: []string{"--version"},
		kind:        NodeGateway, binary: "node", template: "gatecrash_gateway.js", confName: "gatecrash_gateway.js", pkg: "nodejs",
		args: func(conf string, _ *templateData) []string { return []string{conf} },
		logs: []string{"stdout.log"},
		patterns: []pattern{
			{name: "", re: mustRe(`Z ((?:proxy error|upstream response error): .*?|upstream response aborted:|upstream timeout after \d+ ms:) [A-Z]+ /`), capture: true},
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

// mapsFile reports whether process pid maps a file under dir (varnishlog has attached to
// Varnish's shared memory log once it maps the files in Varnish's working folder).
func mapsFile(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return runtime.GOOS != "linux" // no /proc: cannot tell, assume it has
	}
	return bytes.Contains(b, []byte(dir+"/"))
}

// prepareTrafficServer creates the folders Traffic Server's runroot names, the config files
// it insists on reading (empty here), and — when gatecrash runs as root, and ATS drops to
// "nobody" — hands "nobody" the folders ATS writes to.
func prepareTrafficServer(d *templateData, confDir string) error {
	dirs := []string{filepath.Join(d.Dir, "log"), filepath.Join(d.Dir, "run"), filepath.Join(d.Dir, "cache")}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	for _, name := range []string{"plugin.config", "hosting.config", "volume.config", "cache.config", "parent.config",
		"sni.yaml", "splitdns.config", "strategies.yaml", "socks.config", "ssl_multicert.config"} {
		if err := os.WriteFile(filepath.Join(confDir, name), nil, 0o644); err != nil {
			return err
		}
	}
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, ok := nobody()
	if !ok {
		return nil
	}
	for _, dir := range dirs {
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// templateKinds lists the kinds with a built-in config template, in Kinds order.
func templateKinds() []Kind {
	var out []Kind
	for _, k := range Kinds() {
		if _, ok := kinds[k]; ok {
			out = append(out, k)
		}
	}
	return out
}
