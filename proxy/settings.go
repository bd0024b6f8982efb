package proxy

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatecrash/gatecrash/internal/yamlconf"
)

// setting is how one kind's built-in config expresses one variable: the directive it sets,
// where that directive goes, the value the built-in config gives it when the variable is not
// set, and the limits of the kind's unit. The records below (kindSettings, appSettings) are
// the one place these facts are written: variable validation (which kinds read a variable,
// CheckKindVars), the templates' defaults ({{var "name"}}), the embedded proxy's defaults,
// the probe's advice (Knob) and the README's variable tables (VarTables) come from them.
type setting struct {
	// directive is the name as the kind's config or API spells it.
	directive string
	// where says where the directive goes, when its name alone does not ("in the upstream
	// block"); used in advice, not in the README's table.
	where string
	// def is the value when the variable is not set, written as a variable's value ("60s",
	// "16", "on"; a duration of "0" is no limit).
	def string
	// wholeSeconds and min are limits of the kind's unit: a value it cannot express is refused,
	// never rounded (a "fixed" idle window of 30 ms rounded up to 1 s would fix nothing).
	wholeSeconds bool
	min          time.Duration
	// weak, when set, says why setting it does not do what the variable's name promises (the
	// matrix measured it): advice then says so and names what does.
	weak string
}

// The rules of configs that take seconds only: Apache's, and Traffic Server's (at least 1 s:
// 0 there means no limit, or off).
var (
	apacheSecs = setting{wholeSeconds: true}
	atsSecs    = setting{wholeSeconds: true, min: time.Second}
)

func (s setting) with(directive, where, def string) setting {
	s.directive, s.where, s.def = directive, where, def
	return s
}

// kindSettings are the variables each kind's built-in config reads (the embedded proxy's are
// its Go fields, defaulting to Go's http.DefaultTransport values where it has one, so that it
// behaves like a stock Go reverse proxy). A variable a kind has no record for is one it does
// not read.
var kindSettings = map[Kind]map[string]setting{
	Embedded: {
		"idle_timeout":          {directive: "Transport.IdleConnTimeout", def: "90s"},
		"keepalive":             {directive: "Transport.DisableKeepAlives", def: "on"},
		"connect_timeout":       {directive: "Dialer.Timeout", def: "30s"},
		"read_timeout":          {directive: "Transport.ResponseHeaderTimeout", def: "0"},
		"client_idle_timeout":   {directive: "http.Server.IdleTimeout", def: "0"},
		"max_idle_conns":        {directive: "Transport.MaxIdleConnsPerHost", def: "2"},
		"tls_handshake_timeout": {directive: "Transport.TLSHandshakeTimeout", def: "10s"},
		"upstream_proto":        {directive: "Transport.Protocols", where: "(h2c: SetUnencryptedHTTP2, HTTP/2 with prior knowledge to the origin; to a TLS origin SetHTTP2, h2 by ALPN)", def: "h1"},
		"client_proto":          {directive: "http.Server.Protocols", where: "(h2c: SetUnencryptedHTTP2, HTTP/2 with prior knowledge from the client, beside HTTP/1.1)", def: "h1"},
		"retry_unsafe": {directive: "Request.GetBody", where: "and a RoundTripper that sends again, once, a request of any method whose reused connection failed " +
			"before any answer (the body kept, up to 1 MiB; Go's HTTP/2 transport then also resends refused and unprocessed streams itself)", def: "off"},
	},
	Nginx: {
		"idle_timeout":        {directive: "keepalive_timeout", where: "in the upstream block", def: "60s"},
		"keepalive":           {directive: "keepalive", where: "in the upstream block (off: no keepalive line, a new connection per request)", def: "on"},
		"connect_timeout":     {directive: "proxy_connect_timeout", def: "60s"},
		"read_timeout":        {directive: "proxy_read_timeout", def: "60s"},
		"client_idle_timeout": {directive: "keepalive_timeout", where: "in the http or server block", def: "75s"},
		"keepalive_conns":     {directive: "keepalive", where: "in the upstream block", def: "16"},
		"next_upstream":       {directive: "proxy_next_upstream", def: "error timeout"},
		"retry_unsafe":        {directive: "proxy_next_upstream ... non_idempotent", where: "(a POST that met a dead connection is sent again)", def: "off"},
		"client_proto":        {directive: "listen ... http2", where: "(h2c: HTTP/2 with prior knowledge from the client on the plain listener)", def: "h1"},
		"upstream_proto": {directive: "grpc_pass grpc://", where: "instead of proxy_pass (h2c: the grpc module, HTTP/2 with prior knowledge to the origin, grpcs:// to a TLS one, " +
			"one stream per upstream connection at a time; the grpc_ timeouts and grpc_next_upstream take the proxy_ ones' variables)", def: "h1"},
	},
	HAProxy: {
		"idle_timeout": {directive: "pool-purge-delay", where: "on the servers (idle server connections are purged at that pace)", def: "5s",
			weak: "HAProxy 2.6 has no idle timeout for server connections: pool-purge-delay closes half the idle ones each period, " +
				"never the last one, and lowering it did not fix the race (docs/conformance.md: keepalive-race); " +
				"`retry-on conn-failure empty-response` (retry_unsafe: on) or `option http-server-close` (keepalive: off) did"},
		"keepalive":           {directive: "option http-server-close", where: "when off", def: "on"},
		"connect_timeout":     {directive: "timeout connect", def: "5s"},
		"read_timeout":        {directive: "timeout server", def: "30s"},
		"client_idle_timeout": {directive: "timeout http-keep-alive", def: "60s"},
		"http_reuse":          {directive: "http-reuse", def: "safe"},
		"retries":             {directive: "retries", def: "3"},
		"retry_on":            {directive: "retry-on", def: "conn-failure"},
		"retry_unsafe":        {directive: "retry-on ... empty-response", where: "(with `retries`: a request of any method that met a dead connection is sent again)", def: "off"},
		"upstream_proto":      {directive: "proto h2", where: "on the server line (h2c: HTTP/2 with prior knowledge to the origin; to a TLS origin `alpn h2`)", def: "h1"},
		"client_proto":        {directive: "proto h2", where: "on the bind line (h2c: HTTP/2 with prior knowledge from the client)", def: "h1"},
	},
	Caddy: {
		"idle_timeout":          {directive: "keepalive", where: "in the reverse_proxy transport http block", def: "2m"},
		"keepalive":             {directive: "keepalive off", where: "in the reverse_proxy transport http block", def: "on"},
		"connect_timeout":       {directive: "dial_timeout", where: "in the reverse_proxy transport http block", def: "10s"},
		"read_timeout":          {directive: "response_header_timeout", where: "in the reverse_proxy transport http block", def: "0"},
		"client_idle_timeout":   {directive: "idle", where: "in the global servers timeouts block", def: "5m"},
		"tls_handshake_timeout": {directive: "tls_timeout", where: "in the reverse_proxy transport http block", def: "10s"},
		"upstream_proto":        {directive: "versions h2c", where: "in the reverse_proxy transport http block (h2c: HTTP/2 with prior knowledge to the origin; to a TLS origin `versions 2`)", def: "h1"},
		"client_proto":          {directive: "protocols h1 h2c", where: "in the global servers block (h2c: HTTP/2 with prior knowledge from the client)", def: "h1"},
	},
	Apache: {
		"idle_timeout":        apacheSecs.with("ttl=", "on the ProxyPass / BalancerMember", "60s"),
		"keepalive":           {directive: "disablereuse=On", where: "on the ProxyPass, when off", def: "on"},
		"connect_timeout":     apacheSecs.with("connectiontimeout=", "on the ProxyPass", "60s"),
		"read_timeout":        apacheSecs.with("timeout=", "on the ProxyPass", "60s"),
		"client_idle_timeout": apacheSecs.with("KeepAliveTimeout", "", "5s"),
		"upstream_proto":      {directive: "ProxyPass ... h2c://", where: "with mod_proxy_http2 (h2c: HTTP/2 with prior knowledge to the origin; h2:// to a TLS one)", def: "h1"},
	},
	Varnish: {
		"idle_timeout":        {directive: "backend_idle_timeout", where: "as a varnishd -p parameter", def: "60s", min: time.Second},
		"keepalive":           {directive: "Connection: close", where: "on backend requests, when off", def: "on"},
		"connect_timeout":     {directive: ".connect_timeout", where: "in the backend definition", def: "3.5s"},
		"read_timeout":        {directive: ".first_byte_timeout", where: "in the backend definition (and .between_bytes_timeout)", def: "60s"},
		"client_idle_timeout": {directive: "timeout_idle", where: "as a varnishd -p parameter", def: "5s"},
		"retry_unsafe":        {directive: "return (retry)", where: "in vcl_backend_error, with `std.cache_req_body` in vcl_recv (a POST is fetched again)", def: "off"},
	},
	TrafficServer: {
		"idle_timeout":        atsSecs.with("proxy.config.http.keep_alive_no_activity_timeout_out", "in records.config", "120s"),
		"keepalive":           {directive: "proxy.config.http.keep_alive_enabled_out", where: "in records.config", def: "on"},
		"connect_timeout":     atsSecs.with("proxy.config.http.connect_attempts_timeout", "in records.config", "30s"),
		"read_timeout":        atsSecs.with("proxy.config.http.transaction_no_activity_timeout_out", "in records.config", "30s"),
		"client_idle_timeout": atsSecs.with("proxy.config.http.keep_alive_no_activity_timeout_in", "in records.config", "120s"),
		"retries":             {directive: "proxy.config.http.connect_attempts_max_retries", where: "in records.config", def: "3"},
	},
	Nghttpx: {
		"idle_timeout":        {directive: "backend-keep-alive-timeout", def: "2s"},
		"connect_timeout":     {directive: "backend-connect-timeout", def: "30s"},
		"read_timeout":        {directive: "backend-read-timeout", def: "1m"},
		"client_idle_timeout": {directive: "frontend-keep-alive-timeout", def: "1m"},
		"upstream_proto":      {directive: "proto=h2", where: "on the backend line (h2c: HTTP/2 with prior knowledge to the origin; with `;tls` to a TLS one)", def: "h1"},
	},
	NodeGateway: {
		"idle_timeout":        {directive: "timeout", where: "of the http.Agent (its idle socket timeout; or keepAlive: false)", def: "0"},
		"keepalive":           {directive: "keepAlive", where: "of the http.Agent", def: "on"},
		"read_timeout":        {directive: "request timeout", where: "(a 504 when it passes)", def: "0"},
		"client_idle_timeout": {directive: "server.keepAliveTimeout", def: "5s"},
		"max_idle_conns":      {directive: "maxFreeSockets", where: "of the http.Agent", def: "256"},
		"upstream_proto":      {directive: "http2.connect", where: "(h2c: one pooled HTTP/2 session per origin, replaced after its GOAWAY or close; no retries; https:// to a TLS origin)", def: "h1"},
	},
}

// appSettings are the variables of the app servers gatecrash starts as origins, as
// kindSettings are the proxies'.
// (Their own defaults, but gunicorn's worker class: gthread keeps connections alive, sync
// closes after every response.) uvicorn and gunicorn take whole seconds; a duration is
// rounded up.
var appSettings = map[AppKind]map[string]setting{
	Uvicorn: {"idle_timeout": {directive: "--timeout-keep-alive", def: "5s"}},
	Gunicorn: {
		"idle_timeout": {directive: "--keep-alive", def: "2s"},
		"worker_class": {directive: "--worker-class", def: "gthread"},
		"workers":      {directive: "--workers", def: "1"},
		"threads":      {directive: "--threads", def: "8"},
	},
	Node:        {"idle_timeout": {directive: "server.keepAliveTimeout", def: "5s"}},
	NginxOrigin: {"idle_timeout": {directive: "keepalive_timeout", def: "75s"}},
}

// appValue returns app server k's variable name: its value in vars or k's default; false
// when k has no such variable.
func appValue(k AppKind, vars map[string]string, name string) (string, bool) {
	s, ok := appSettings[k][name]
	return varOr(vars, name, s.def), ok
}

// appVal is appValue for a variable k has.
func appVal(k AppKind, vars map[string]string, name string) string {
	v, _ := appValue(k, vars, name)
	return v
}

// readers lists the kinds whose built-in config reads variable name, in Kinds order.
func readers(name string) []Kind {
	var out []Kind
	for _, k := range Kinds() {
		if _, ok := kindSettings[k][name]; ok {
			out = append(out, k)
		}
	}
	return out
}

// defaultOf returns the value kind k's built-in config gives variable name when it is not set.
func defaultOf(k Kind, name string) (string, bool) {
	s, ok := kindSettings[k][name]
	return s.def, ok
}

// valueOf returns variable name's value in vars, or kind k's default.
func valueOf(k Kind, vars map[string]string, name string) string {
	d, _ := defaultOf(k, name)
	return varOr(vars, name, d)
}

// Knob names the setting of proxy kind k behind variable name, as advice says it:
// "`keepalive_timeout` in the upstream block". ok is false when the kind has no such setting.
func Knob(k Kind, name string) (knob string, ok bool) {
	s, ok := kindSettings[k][name]
	return s.knob(), ok
}

// Weak says, when kind k's setting behind variable name does not do what the variable promises
// (HAProxy's pool-purge-delay is no idle timeout), why and what does instead.
func Weak(k Kind, name string) (string, bool) {
	s := kindSettings[k][name]
	return s.weak, s.weak != ""
}

// AppKnob is Knob for an app server.
func AppKnob(k AppKind, name string) (knob string, ok bool) {
	s, ok := appSettings[k][name]
	return s.knob(), ok
}

// place is the directive and where it goes: "`timeout=` on the ProxyPass".
func (s setting) place() string {
	out := "`" + s.directive + "`"
	if s.where != "" {
		out += " " + s.where
	}
	return out
}

func (s setting) knob() string {
	out := s.place()
	if rule := s.rule(); rule != "" {
		out += " (" + rule + ")"
	}
	return out
}

// rule says the unit's limits: "whole seconds", "at least 1s".
func (s setting) rule() string {
	var parts []string
	if s.wholeSeconds {
		parts = append(parts, "whole seconds")
	}
	if s.min > 0 {
		parts = append(parts, "at least "+s.min.String())
	}
	return strings.Join(parts, ", ")
}

// tableRows are the variables with a row of their own in the README's tables, in order, and
// what each row says the variable is; the others share the last row.
var tableRows = []struct{ name, what string }{
	{"idle_timeout", "upstream keep-alive idle window"},
	{"keepalive", "upstream keep-alive, on/off"},
	{"connect_timeout", ""},
	{"read_timeout", ""},
	{"client_idle_timeout", "idle client connections"},
}

// VarTables renders the README's tables of the built-in templates' variables: a row per
// common variable, a column per kind (at most perTable kinds a table), each cell the kind's
// directive and default; a last row lists each kind's other variables.
func VarTables(perTable int) string {
	ks := slices.DeleteFunc(Started(), func(k Kind) bool { return kindSettings[k] == nil })
	var b strings.Builder
	for len(ks) > 0 {
		n := min(perTable, len(ks))
		part := ks[:n]
		ks = ks[n:]
		b.WriteString("| variable |")
		for _, k := range part {
			fmt.Fprintf(&b, " %s |", k)
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(part)) + "\n")
		common := map[string]bool{}
		for _, r := range tableRows {
			common[r.name] = true
			label := "`" + r.name + "`"
			if r.what != "" {
				label += " (" + r.what + ")"
			}
			fmt.Fprintf(&b, "| %s |", label)
			for _, k := range part {
				s, ok := kindSettings[k][r.name]
				if !ok {
					b.WriteString(" — |")
					continue
				}
				fmt.Fprintf(&b, " %s |", s.cell())
			}
			b.WriteString("\n")
		}
		b.WriteString("| others |")
		for _, k := range part {
			var others []string
			for _, name := range slices.Sorted(maps.Keys(kindSettings[k])) {
				if !common[name] {
					others = append(others, "`"+name+"` "+displayDefault(kindSettings[k][name].def))
				}
			}
			if len(others) == 0 {
				others = []string{"—"}
			}
			fmt.Fprintf(&b, " %s |", strings.Join(others, ", "))
		}
		b.WriteString("\n")
		if len(ks) > 0 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// cell is a setting as the README's table shows it: "`proxy_read_timeout` 60s".
func (s setting) cell() string {
	out := "`" + s.directive + "` " + displayDefault(s.def)
	if rule := s.rule(); rule != "" {
		out += " (" + rule + ")"
	}
	return out
}

func displayDefault(def string) string {
	if def == "0" {
		return "none"
	}
	if def == "" {
		return "-"
	}
	return def
}

// settingsComment lists kind k's variables for the head of its rendered config, a line each
// behind prefix: "#   idle_timeout 60s (default)  `keepalive_timeout` in the upstream block".
func settingsComment(k Kind, vars map[string]string, prefix string) string {
	names := slices.Sorted(maps.Keys(kindSettings[k]))
	width := 0
	for _, n := range names {
		width = max(width, len(n)+1+len(valueOf(k, vars, n))+len(" (default)"))
	}
	var b strings.Builder
	for i, n := range names {
		s := kindSettings[k][n]
		v := valueOf(k, vars, n)
		col := n + " " + v
		if strings.TrimSpace(vars[n]) == "" {
			col += " (default)"
		}
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s  %-*s  %s", prefix, width, col, s.knob())
	}
	return b.String()
}

// The units configs take durations in: whole seconds rounded up (at least 1: Apache's ttl,
// uvicorn's --timeout-keep-alive), whole milliseconds (Node), seconds with a fraction
// (Varnish).
func secondsUp(d time.Duration) string   { return strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))) }
func millis(d time.Duration) string      { return strconv.FormatInt(d.Milliseconds(), 10) }
func fracSeconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// durationFunc makes a unit a template function of a variable's value.
func durationFunc(unit func(time.Duration) string) func(string) (string, error) {
	return func(v string) (string, error) {
		d, err := yamlconf.ParseDuration(v)
		if err != nil {
			return "", err
		}
		return unit(d), nil
	}
}

// inUnit writes duration value v in unit, for a command line; a value that is not a duration
// (variables are checked before anything starts) is passed on as it is.
func inUnit(v string, unit func(time.Duration) string) string {
	d, err := yamlconf.ParseDuration(v)
	if err != nil {
		return v
	}
	return unit(d)
}
