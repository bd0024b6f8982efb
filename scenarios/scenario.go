package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/internal/errext"
	"github.com/gatecrash/gatecrash/internal/files"
	"github.com/gatecrash/gatecrash/internal/link"
	"github.com/gatecrash/gatecrash/internal/yamlconf"
	"github.com/gatecrash/gatecrash/loadgen"
	"github.com/gatecrash/gatecrash/proxy"
)

// APIVersion is the scenario format this build reads.
const APIVersion = "gatecrash/v1"

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalid marks a scenario that cannot be run; the message lists every problem with
	// its file:line:column.
	ErrInvalid = errors.New("invalid scenario")
	// ErrNotFound is a built-in scenario name that does not exist.
	ErrNotFound = errors.New("no such scenario")
	// ErrSelection is a run option that does not fit the scenario: a variant it does not
	// have, or a proxy kind it does not apply to.
	ErrSelection = errors.New("cannot run that")
)

// Scenario is a parsed, validated scenario file. Variants are resolved: each has its own
// complete origin, proxy and load settings.
type Scenario struct {
	Name        string
	Description string
	// Remedy says what to do where no proxy setting removes the failure (the origin is at
	// fault, or the proxy has no such setting): at the client, at the origin. Optional.
	Remedy string
	// Proxies lists the proxy kinds the failure applies to (empty: all).
	Proxies  []proxy.Kind
	Variants []*Variant
	Expect   Expectations
	// Source is the YAML the scenario was read from (for `scenarios show`).
	Source []byte
}

// Variant is one configuration to compare: everything needed to run it.
type Variant struct {
	Name        string
	Description string
	Origin      Origin
	Proxy       proxy.Spec
	// Chain are more proxies between Proxy and the origin, client side first: the client
	// talks to Proxy, Proxy to Chain[0], ..., the last to the origin.
	Chain []proxy.Spec
	Load  loadgen.Config // URL is empty: the runner points it at the proxy
	Path  string         // request path, default "/"
	// OwnProxyVars are the proxy variables the variant itself sets (not inherited from the
	// scenario's proxy section): what makes it this variant.
	OwnProxyVars []string
}

// Origin kinds besides the app servers (proxy.AppKinds).
const (
	OriginFaultServer = "fault-server"
	OriginExternal    = "external"
	// OriginRelay is the fault server in front of a real app: one the user runs
	// (Origin.Upstream) or one gatecrash starts (Origin.App).
	OriginRelay = "relay"
)

// Origin is the origin side of a variant: gatecrash's fault server (the default), a real app
// server gatecrash starts (uvicorn, gunicorn, node, nginx: proxy.AppKinds), or one the user
// runs (external).
type Origin struct {
	// Kind is fault-server, relay, an app server (proxy.AppKinds) or external.
	Kind string
	// Upstream is the app a relay forwards to when the user runs it (http://host:port);
	// App the app server gatecrash starts behind the relay instead (proxy.AppKinds).
	Upstream string
	App      string
	// Vars are an app server's variables (idle_timeout, worker_class, ...); Binary its
	// interpreter or script.
	Vars   map[string]string
	Binary string
	// Address is where an external origin listens.
	Address string
	// Link, when set, puts a delayed link between the last proxy and the origin.
	Link *link.Config
	// Replicas is how many listeners (upstream servers) the proxy balances over.
	Replicas int
	// Listen are fixed addresses for the listeners (for an external proxy configured to
	// reach them); empty means ephemeral loopback ports.
	Listen []string
	// TLS makes the origin listeners speak TLS (the proxy connects with TLS).
	TLS bool
	// Config is the fault server's response, limits and fault plan.
	Config *faultserver.Config
}

// doc is the file's top level as YAML; sections stay nodes until variants are merged in.
type doc struct {
	APIVersion  string       `yaml:"apiVersion"`
	Name        string       `yaml:"name"`
	Description string       `yaml:"description"`
	Remedy      string       `yaml:"remedy"`
	Proxies     []proxy.Kind `yaml:"proxies"`
	Origin      yaml.Node    `yaml:"origin"`
	Proxy       yaml.Node    `yaml:"proxy"`
	Chain       yaml.Node    `yaml:"chain"`
	Load        yaml.Node    `yaml:"load"`
	Variants    []yaml.Node  `yaml:"variants"`
	Expect      yaml.Node    `yaml:"expect"`
}

type variantDoc struct {
	Name        string    `yaml:"name"`
	Description string    `yaml:"description"`
	Origin      yaml.Node `yaml:"origin"`
	Proxy       yaml.Node `yaml:"proxy"`
	Chain       yaml.Node `yaml:"chain"`
	Load        yaml.Node `yaml:"load"`
}

// originExtra are the origin keys the fault server config does not have.
type originExtra struct {
	Replicas *int              `yaml:"replicas"`
	TLS      bool              `yaml:"tls"`
	Listen   []string          `yaml:"listen"`
	Kind     string            `yaml:"kind"`
	Vars     map[string]string `yaml:"vars"`
	Binary   string            `yaml:"binary"`
	Address  string            `yaml:"address"`
	Upstream string            `yaml:"upstream"`
	App      string            `yaml:"app"`
	Link     *linkDoc          `yaml:"link"`
}

// linkDoc is a link's delay as a scenario writes it.
type linkDoc struct {
	Latency yamlconf.Duration `yaml:"latency"`
	Jitter  yamlconf.Duration `yaml:"jitter"`
}

// loadDoc is the load section: loadgen's settings plus the request path; the URL is the
// runner's business.
type loadDoc struct {
	Path           string `yaml:"path"`
	loadgen.Config `yaml:",inline"`
}

// MaxFileSize bounds a scenario file (a real one is a few kilobytes).
const MaxFileSize = 1 << 20

// LoadFile reads and validates a scenario file. A proxy template named by a relative path is
// found beside the scenario file, not in the working directory.
func LoadFile(path string) (*Scenario, error) {
	b, err := files.Read(path, "reading scenario", MaxFileSize, nil)
	if err != nil {
		return nil, err
	}
	sc, err := Parse(b, path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	for _, v := range sc.Variants {
		for _, spec := range append([]*proxy.Spec{&v.Proxy}, chainSpecs(v)...) {
			if spec.Template != "" && !filepath.IsAbs(spec.Template) {
				spec.Template = filepath.Join(dir, spec.Template)
			}
		}
	}
	return sc, nil
}

func chainSpecs(v *Variant) []*proxy.Spec {
	out := make([]*proxy.Spec, len(v.Chain))
	for i := range v.Chain {
		out[i] = &v.Chain[i]
	}
	return out
}

// Parse decodes and validates a scenario; file names it in every message ("file:line:col: ...").
func Parse(b []byte, file string) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s: the file is empty", ErrInvalid, file)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	var errs []error
	var d doc
	if err := yamlconf.Decode(&root, &d, "scenario"); err != nil {
		errs = append(errs, err)
	}
	top := root.Content[0]
	at := func(n *yaml.Node, format string, args ...any) error {
		if n == nil || n.Line == 0 {
			n = top
		}
		return &yamlconf.Error{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
	}
	if d.APIVersion != APIVersion {
		errs = append(errs, at(field(top, "apiVersion"), "apiVersion: %q is not supported; this gatecrash reads %q", d.APIVersion, APIVersion))
	}
	if d.Name == "" {
		errs = append(errs, at(top, "name: missing"))
	}
	for _, k := range d.Proxies {
		if _, err := proxy.ParseKind(string(k)); err != nil {
			errs = append(errs, at(field(top, "proxies"), "proxies: %v", err))
		}
	}
	sc := &Scenario{Name: d.Name, Description: strings.TrimSpace(d.Description), Remedy: strings.TrimSpace(d.Remedy),
		Proxies: d.Proxies, Source: b}

	variants := d.Variants
	if len(variants) == 0 {
		variants = []yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "name"}, {Kind: yaml.ScalarNode, Value: "default"}}}}
	}
	seen := map[string]bool{} // variant names
	for i := range variants {
		vn := &variants[i]
		var vd variantDoc
		if err := yamlconf.Decode(vn, &vd, fmt.Sprintf("variants[%d]", i)); err != nil {
			errs = append(errs, err)
			continue
		}
		if vd.Name == "" {
			errs = append(errs, at(vn, "variants[%d]: name is missing", i))
		} else if seen[vd.Name] {
			errs = append(errs, at(vn, "variants[%d]: name %q is used twice", i, vd.Name))
		}
		if vd.Name != "" {
			seen[vd.Name] = true
		}
		v, verrs := resolveVariant(&d, &vd)
		lo, hi := vn.Line, maxLine(vn)
		for _, e := range verrs {
			errs = append(errs, inVariant(e, vd.Name, lo, hi)...)
		}
		sc.Variants = append(sc.Variants, v)
	}
	exp, eerrs := parseExpect(&d.Expect, seen)
	errs = append(errs, eerrs...)
	sc.Expect = exp
	if len(errs) > 0 {
		return nil, invalid(file, errs)
	}
	return sc, nil
}

// Applies says whether variant v means anything for proxy kind k, and if not, why: the
// scenario does not apply to k, the variant changes a variable k's built-in template does not
// read (a "keepalive: off" variant is the same as the default for a proxy without that
// switch), or k cannot express one of the variant's durations (whole seconds, minimums).
func (sc *Scenario) Applies(k proxy.Kind, v *Variant) error {
	if len(sc.Proxies) > 0 && !slices.Contains(sc.Proxies, k) {
		return fmt.Errorf("%w: scenario %s does not apply to proxy %s; it applies to %v", ErrSelection, sc.Name, k, sc.Proxies)
	}
	if v.Proxy.Template != "" || k == proxy.External {
		return nil // the user's own config: it reads what it likes
	}
	if ok, why := proxy.SupportsOriginTLS(k); v.Origin.TLS && !ok {
		return fmt.Errorf("%w: the origin speaks TLS and %s cannot connect to it: %s", ErrSelection, k, why)
	}
	if ok, why := proxy.BalancesOrigins(k); v.Origin.Replicas > 1 && !ok {
		return fmt.Errorf("%w: variant %s has %d origin replicas and %s cannot spread requests over them: %s",
			ErrSelection, v.Name, v.Origin.Replicas, k, why)
	}
	for _, name := range v.OwnProxyVars {
		if !proxy.Reads(k, name) {
			return fmt.Errorf("%w: variant %s sets proxy.vars.%s, which %s's template does not read (no such setting there)",
				ErrSelection, v.Name, name, k)
		}
	}
	if err := proxy.CheckKindVars(k, v.Proxy.Vars); err != nil {
		return fmt.Errorf("%w: variant %s: %w", ErrSelection, v.Name, err)
	}
	return nil
}

// resolveVariant merges a variant's overrides into the base sections and decodes them.
func resolveVariant(d *doc, vd *variantDoc) (*Variant, []error) {
	var errs []error
	v := &Variant{Name: vd.Name, Description: strings.TrimSpace(vd.Description)}

	origin := merge(&d.Origin, &vd.Origin)
	var extra originExtra
	extraKeys := slices.Sorted(maps.Keys(yamlconf.FieldNames(reflect.TypeOf(extra))))
	extraNode, cfgNode := splitKeys(origin, extraKeys...)
	if err := yamlconf.Decode(extraNode, &extra, "origin"); err != nil {
		errs = append(errs, err)
	}
	replicas := 1
	if extra.Replicas != nil {
		replicas = *extra.Replicas
	} else if len(extra.Listen) > 0 {
		replicas = len(extra.Listen)
	}
	if len(extra.Listen) > 0 && replicas != len(extra.Listen) {
		pos := valueNode(origin, "listen")
		errs = append(errs, &yamlconf.Error{Line: pos.Line, Column: pos.Column,
			Msg: fmt.Sprintf("origin.listen has %d addresses for %d replicas; give one per replica", len(extra.Listen), replicas)})
	}
	for _, a := range extra.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			pos := valueNode(origin, "listen")
			errs = append(errs, &yamlconf.Error{Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf("origin.listen: %q is not host:port", a)})
		}
	}
	if replicas < 1 || replicas > 64 {
		pos := valueNode(origin, "replicas")
		errs = append(errs, &yamlconf.Error{Line: pos.Line, Column: pos.Column,
			Msg: fmt.Sprintf("origin.replicas: %d is not allowed; allowed: 1 to 64", replicas)})
	}
	cfg, cerrs := faultserver.DecodeConfig(cfgNode, "origin")
	errs = append(errs, cerrs...)
	v.Origin = Origin{Replicas: replicas, TLS: extra.TLS, Listen: extra.Listen, Config: cfg,
		Kind: extra.Kind, Vars: extra.Vars, Binary: extra.Binary, Address: extra.Address, Upstream: extra.Upstream, App: extra.App}
	errs = append(errs, checkOriginKind(origin, &v.Origin, cfgNode)...)
	if extra.Link != nil {
		lc := link.Config{Latency: extra.Link.Latency.D(), Jitter: extra.Link.Jitter.D()}
		if err := lc.Validate(); err != nil {
			pos := valueNode(origin, "link")
			for _, e := range errext.Flatten(err) {
				errs = append(errs, &yamlconf.Error{Line: pos.Line, Column: pos.Column, Msg: "origin.link." + e.Error()})
			}
		}
		v.Origin.Link = &lc
	}

	pn := merge(&d.Proxy, &vd.Proxy)
	if vars := valueNode(&vd.Proxy, "vars"); vars != nil && vars.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(vars.Content); i += 2 {
			v.OwnProxyVars = append(v.OwnProxyVars, vars.Content[i].Value)
		}
	}
	if err := yamlconf.Decode(pn, &v.Proxy, "proxy"); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkVars(d.Proxies, &v.Proxy, pn, "proxy")...)
	if err := checkUpstreamProto(&v.Origin, v.Proxy.Vars["upstream_proto"]); err != nil {
		pos := valueNode(pn, "vars")
		if pos == nil {
			pos = pn
		}
		errs = append(errs, &yamlconf.Error{Line: pos.Line, Column: pos.Column, Msg: err.Error()})
	}
	if v.Proxy.Kind == "" {
		v.Proxy.Kind = proxy.Embedded
	} else if _, err := proxy.ParseKind(string(v.Proxy.Kind)); err != nil {
		pos := valueNode(pn, "kind")
		errs = append(errs, &yamlconf.Error{Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf("proxy.kind: %v", err)})
	}

	if cn := merge(&d.Chain, &vd.Chain); cn.Kind == yaml.SequenceNode {
		if err := yamlconf.Decode(cn, &v.Chain, "chain"); err != nil {
			errs = append(errs, err)
		}
		for i := range v.Chain {
			errs = append(errs, checkVars(d.Proxies, &v.Chain[i], cn.Content[i], fmt.Sprintf("chain[%d]", i))...)
			if v.Chain[i].Kind == "" {
				v.Chain[i].Kind = proxy.Embedded
			} else if _, err := proxy.ParseKind(string(v.Chain[i].Kind)); err != nil || v.Chain[i].Kind == proxy.External {
				pos := cn.Content[i]
				errs = append(errs, &yamlconf.Error{Line: pos.Line, Column: pos.Column,
					Msg: fmt.Sprintf("chain[%d].kind: %q is not allowed; allowed: %s", i, v.Chain[i].Kind, proxy.StartedNames())})
			}
		}
	} else if cn.Kind != yaml.MappingNode || len(cn.Content) > 0 {
		errs = append(errs, &yamlconf.Error{Line: cn.Line, Column: cn.Column, Msg: "chain: a list of proxies, e.g. [{kind: embedded, vars: {...}}]"})
	}

	ln := merge(&d.Load, &vd.Load)
	var ld loadDoc
	if err := yamlconf.Decode(ln, &ld, "load"); err != nil {
		errs = append(errs, err)
	}
	// Zero means "the default" once decoded; written out, it is a mistake worth naming.
	for i := 0; i+1 < len(ln.Content); i += 2 {
		if err := loadgen.CheckWritten(ln.Content[i].Value, ln.Content[i+1].Value); err != nil {
			vn := ln.Content[i+1]
			errs = append(errs, &yamlconf.Error{Line: vn.Line, Column: vn.Column, Msg: "load." + err.Error()})
		}
	}
	if ld.URL != "" {
		errs = append(errs, &yamlconf.Error{Line: ln.Line, Column: ln.Column,
			Msg: "load.url: the runner points the load at the proxy; give load.path instead"})
	}
	ld.Config.URL = "http://127.0.0.1:1/" // a placeholder to validate everything else
	ld.Config.SetDefaults()
	if err := ld.Config.Validate(); err != nil {
		for _, e := range errext.Flatten(err) {
			var fe *loadgen.FieldError
			if errors.As(e, &fe) {
				e = fmt.Errorf("load.%s: %s", fe.Field, fe.Msg)
			}
			errs = append(errs, &yamlconf.Error{Line: ln.Line, Column: ln.Column, Msg: e.Error()})
		}
	}
	ld.Config.URL = ""
	v.Load = ld.Config
	v.Path = ld.Path
	if v.Path == "" {
		v.Path = "/"
	}
	if !strings.HasPrefix(v.Path, "/") {
		pos := valueNode(ln, "path")
		errs = append(errs, &yamlconf.Error{Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf("load.path %q must start with /", v.Path)})
	}
	return v, errs
}

// checkUpstreamProto says when the proxy is told to speak HTTP/2 to an origin that answers in
// HTTP/1.1 only: every request would be a 502 no fault injected (nginx: "upstream sent too
// large http2 frame", the first bytes of an HTTP/1.1 answer read as a frame header).
func checkUpstreamProto(o *Origin, proto string) error {
	if proto != "h2c" {
		return nil
	}
	switch {
	case o.Kind == OriginFaultServer:
		if o.Config != nil && !o.Config.HTTP2 {
			return errors.New("proxy.vars.upstream_proto: h2c, but the origin speaks HTTP/1.1 only: set origin.http2: true")
		}
	case o.Kind == OriginRelay:
		return errors.New("proxy.vars.upstream_proto: h2c, but the relay (origin.kind relay) relays HTTP/1.1 only")
	case o.Kind != OriginExternal:
		return fmt.Errorf("proxy.vars.upstream_proto: h2c, but origin.kind %s speaks HTTP/1.1 only; HTTP/2 upstreams need the fault server (origin.http2: true) or an external origin", o.Kind)
	}
	return nil
}

// checkOriginKind checks origin.kind and what goes with it: an app server takes vars and no
// faults, an external origin an address.
func checkOriginKind(n *yaml.Node, o *Origin, cfgNode *yaml.Node) []error {
	at := func(key, format string, args ...any) error {
		pos := valueNode(n, key)
		if pos == nil {
			pos = n
		}
		return &yamlconf.Error{Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf(format, args...)}
	}
	var errs []error
	if o.Kind == "" {
		o.Kind = OriginFaultServer
	}
	app, appErr := proxy.ParseAppKind(o.Kind)
	isApp := appErr == nil
	if o.Kind != OriginRelay && (o.Upstream != "" || o.App != "") {
		errs = append(errs, at("kind", "origin: upstream and app are for origin.kind relay (the fault server in front of your app)"))
	}
	switch {
	case o.Kind == OriginFaultServer:
		if len(o.Vars) > 0 || o.Binary != "" || o.Address != "" {
			errs = append(errs, at("kind", "origin: vars, binary and address are for origin.kind %s or external; "+
				"the fault server takes faults, response and limits", proxy.AppKindNames()))
		}
		return errs
	case o.Kind == OriginRelay:
		return append(errs, checkRelay(n, o, at)...)
	case o.Kind == OriginExternal:
		if _, _, err := net.SplitHostPort(o.Address); err != nil {
			errs = append(errs, at("address", "origin.address: %q is not host:port; origin.kind external needs where your origin listens", o.Address))
		}
	case isApp:
		for _, e := range errext.Flatten(proxy.CheckAppVars(app, o.Vars)) {
			pos := "vars"
			if ve, ok := errors.AsType[*proxy.VarError](e); ok {
				e = fmt.Errorf("origin.vars.%s: %s", ve.Name, ve.Msg)
			}
			errs = append(errs, at(pos, "%v", e))
		}
		if o.Address != "" {
			errs = append(errs, at("address", "origin.address is for origin.kind external; gatecrash picks %s's address", o.Kind))
		}
	default:
		return append(errs, at("kind", "origin.kind: %q is not allowed; allowed: fault-server, relay, %s, external", o.Kind, proxy.AppKindNames()))
	}
	// Only the fault server injects faults or is configured like one.
	for i := 0; i+1 < len(cfgNode.Content); i += 2 {
		errs = append(errs, at(cfgNode.Content[i].Value, "origin.%s: only origin.kind fault-server takes it; %s is a real server "+
			"(its behaviour is its own, set with vars)", cfgNode.Content[i].Value, o.Kind))
	}
	if o.TLS || len(o.Listen) > 0 || o.Replicas != 1 {
		errs = append(errs, at("kind", "origin: tls, listen and replicas are for the fault server; %s runs one plain HTTP instance", o.Kind))
	}
	return errs
}

// checkRelay checks a relay origin: an app to relay to (one the user runs, or one gatecrash
// starts, with its vars), and the fault server's own settings, which a relay takes.
func checkRelay(n *yaml.Node, o *Origin, at func(key, format string, args ...any) error) []error {
	var errs []error
	switch {
	case (o.Upstream == "") == (o.App == ""):
		errs = append(errs, at("kind", "origin.kind relay needs one of origin.upstream (your app's URL, http://host:port) "+
			"and origin.app (%s: gatecrash starts it)", proxy.AppKindNames()))
	case o.Upstream != "":
		if _, err := faultserver.ParseUpstream(o.Upstream, faultserver.UpstreamOptions{}); err != nil {
			errs = append(errs, at("upstream", "origin.%v", err))
		}
		if len(o.Vars) > 0 || o.Binary != "" {
			errs = append(errs, at("upstream", "origin: vars and binary are for the app gatecrash starts (origin.app); origin.upstream is an app you run"))
		}
	default:
		app, err := proxy.ParseAppKind(o.App)
		if err != nil {
			errs = append(errs, at("app", "origin.app: %q is not allowed; allowed: %s", o.App, proxy.AppKindNames()))
			break
		}
		for _, e := range errext.Flatten(proxy.CheckAppVars(app, o.Vars)) {
			if ve, ok := errors.AsType[*proxy.VarError](e); ok {
				e = fmt.Errorf("origin.vars.%s: %s", ve.Name, ve.Msg)
			}
			errs = append(errs, at("vars", "%v", e))
		}
	}
	if o.Config != nil && o.Config.HTTP2 {
		errs = append(errs, at("http2", "origin.http2: the relay relays HTTP/1.1 only; an HTTP/2 client would get the fault server's own answers, not the app's"))
	}
	if o.Address != "" {
		errs = append(errs, at("address", "origin.address is for origin.kind external; a relay's app is origin.upstream"))
	}
	if o.Replicas != 1 {
		errs = append(errs, at("replicas", "origin.replicas: a relay runs one listener in front of one app"))
	}
	return errs
}

// checkVars checks a proxy's variables against the built-in templates of the scenario's
// kinds (all kinds when it lists none, since --proxy may pick any), at their positions in the
// file. A proxy with its own template reads what it likes.
func checkVars(kinds []proxy.Kind, spec *proxy.Spec, n *yaml.Node, where string) []error {
	if spec.Template != "" || spec.Kind == proxy.External {
		return nil
	}
	varsNode := valueNode(n, "vars")
	var errs []error
	for _, e := range errext.Flatten(proxy.CheckVars(kinds, spec.Vars)) {
		pos := varsNode
		if ve, ok := errors.AsType[*proxy.VarError](e); ok {
			if k := keyNode(varsNode, ve.Name); k != nil {
				pos = k
			}
		}
		if pos == nil {
			pos = n
		}
		errs = append(errs, &yamlconf.Error{Line: pos.Line, Column: pos.Column, Msg: strings.Replace(e.Error(), "proxy.", where+".", 1)})
	}
	return errs
}

// keyNode returns the key node of key in mapping m, or nil.
func keyNode(m *yaml.Node, key string) *yaml.Node {
	if m == nil {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// merge returns base with over's keys laid on top, recursively for mappings; anything else in
// over replaces what base has. Neither input is modified; positions are kept.
func merge(base, over *yaml.Node) *yaml.Node {
	if over == nil || over.Kind == 0 {
		if base == nil || base.Kind == 0 {
			return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		return base
	}
	if base == nil || base.Kind != yaml.MappingNode || over.Kind != yaml.MappingNode {
		return over
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: base.Tag, Line: base.Line, Column: base.Column}
	idx := map[string]int{}
	for i := 0; i+1 < len(base.Content); i += 2 {
		idx[base.Content[i].Value] = len(out.Content)
		out.Content = append(out.Content, base.Content[i], base.Content[i+1])
	}
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		if j, ok := idx[k.Value]; ok {
			out.Content[j+1] = merge(out.Content[j+1], v)
			continue
		}
		idx[k.Value] = len(out.Content)
		out.Content = append(out.Content, k, v)
	}
	return out
}

// splitKeys splits mapping n into two copies: one with the given keys, one with the rest.
func splitKeys(n *yaml.Node, keys ...string) (with, without *yaml.Node) {
	w, wo := *n, *n
	w.Content, wo.Content = nil, nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		side := &wo
		if slices.Contains(keys, n.Content[i].Value) {
			side = &w
		}
		side.Content = append(side.Content, n.Content[i], n.Content[i+1])
	}
	return &w, &wo
}

// field returns the key node of a mapping's field, for positions.
func field(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// inVariant names the variant in the problems that lie inside its own overrides (lines lo..hi);
// a problem in a base section belongs to no variant and is reported once.
func inVariant(err error, name string, lo, hi int) []error {
	var out []error
	for _, e := range errext.Flatten(err) {
		var ye *yamlconf.Error
		if errors.As(e, &ye) && ye.Line >= lo && ye.Line <= hi && name != "" {
			out = append(out, &yamlconf.Error{Line: ye.Line, Column: ye.Column, Msg: "variant " + name + ": " + ye.Msg})
		} else {
			out = append(out, e)
		}
	}
	return out
}

// maxLine is the last line a node spans.
func maxLine(n *yaml.Node) int {
	m := n.Line
	for _, c := range n.Content {
		m = max(m, maxLine(c))
	}
	return m
}

// valueNode returns the value node of a mapping's key (nil if absent).
func valueNode(m *yaml.Node, key string) *yaml.Node {
	if m == nil {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// invalid joins every problem into one error, each line "file:line:col: message", with
// duplicates (the same base-section problem seen through every variant) removed.
func invalid(file string, errs []error) error {
	var lines []string
	seen := map[string]bool{}
	for _, e := range errs {
		for _, x := range errext.Flatten(e) {
			l := file + ":" + x.Error()
			var ye *yamlconf.Error
			if !errors.As(x, &ye) {
				l = file + ": " + x.Error()
			}
			if !seen[l] { // a base-section problem is found once per variant: show it once
				seen[l] = true
				lines = append(lines, l)
			}
		}
	}
	return fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(lines, "\n  "))
}
