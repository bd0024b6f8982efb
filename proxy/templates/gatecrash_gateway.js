// gatecrash: a Node.js reverse proxy in front of the fault server — the stand-in for
// Node-based API gateways (Edge Microgateway, Express + http-proxy): Node's http module, one
// keep-alive http.Agent for the upstream, no retries, and upstream errors logged the way those
// gateways log them ("socket hang up", "read ECONNRESET"). Rendered by gatecrash from a Go
// template.
// Variables (proxy.vars; the records are in gatecrash's proxy/settings.go), as this run sets them:
{{settings "//"}}
'use strict';
const http = require('http');
const upstream = {{if .OriginTLS}}require('https'){{else}}http{{end}};

const origins = [{{range $i, $o := .Origins}}{{if $i}}, {{end}}{ host: '{{$o.Host}}', port: {{$o.Port}} }{{end}}];
const keepAlive = '{{var "keepalive"}}' === 'on';
const idleMs = {{ms (var "idle_timeout")}};
const readMs = {{ms (var "read_timeout")}};
const agent = new upstream.Agent({
  keepAlive,{{if .OriginTLS}}
  rejectUnauthorized: false,{{end}}
  maxFreeSockets: {{var "max_idle_conns"}},
  scheduling: 'lifo',
  ...(idleMs > 0 ? { timeout: idleMs } : {}),
});
let next = 0;
{{- if eq (var "upstream_proto") "h2c"}}

// upstream_proto h2c: one pooled HTTP/2 session per origin (http2.connect, prior knowledge),
// replaced once it has received a GOAWAY or closed; idle_timeout closes an idle session. No
// retries: a stream the origin refuses or leaves above its GOAWAY fails as Node reports it.
const http2 = require('http2');
const sessions = [];
function session(i) {
  const cur = sessions[i];
  if (cur && !cur.closed && !cur.destroyed) {
    return cur;
  }
  const o = origins[i];
  const s = http2.connect({{if .OriginTLS}}`https://${o.host}:${o.port}`, { rejectUnauthorized: false }{{else}}`http://${o.host}:${o.port}`{{end}});
  const drop = () => { if (sessions[i] === s) sessions[i] = null; };
  s.on('error', (err) => { log(`upstream session error: ${err.code || ''} ${err.message}`); drop(); });
  s.on('goaway', drop);
  s.on('close', drop);
  if (idleMs > 0) {
    s.setTimeout(idleMs, () => { drop(); s.close(); });
  }
  sessions[i] = s;
  return s;
}
const hopByHop = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te'];
{{- end}}

function log(line) {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

function fail(err, req, res) {
  log(`proxy error: ${err.code || ''} ${err.message} ${req.method} ${req.url}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = err.code === 'GATECRASH_TIMEOUT' ? 504 : 502;
  const body = JSON.stringify({ message: err.message, code: err.code });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

{{- if eq (var "upstream_proto") "h2c"}}

function h2Forward(req, res) {
  const headers = { ':method': req.method, ':path': req.url, ':authority': req.headers.host || 'origin' };
  for (const [k, v] of Object.entries(req.headers)) {
    if (!hopByHop.includes(k)) {
      headers[k] = v;
    }
  }
  let up;
  let failed = false;
  const onFail = (err) => {
    if (!failed) {
      failed = true;
      fail(err, req, res);
    }
  };
  try {
    up = session(next++ % origins.length).request(headers);
  } catch (err) {
    onFail(err);
    return;
  }
  up.on('response', (h) => {
    const out = { ...h };
    delete out[':status'];
    res.writeHead(h[':status'], out);
    up.pipe(res);
  });
  if (readMs > 0) {
    up.setTimeout(readMs, () => {
      log(`upstream timeout after ${readMs} ms: ${req.method} ${req.url}`);
      up.close(http2.constants.NGHTTP2_CANCEL);
      onFail(Object.assign(new Error('upstream timeout'), { code: 'GATECRASH_TIMEOUT' }));
    });
  }
  up.on('error', onFail);
  up.on('aborted', () => {
    log(`upstream response aborted: ${req.method} ${req.url}`);
    res.destroy();
  });
  // A stream can end with no error event and no response (its session's socket closed
  // under it): answer for it, or the client waits forever.
  up.on('close', () => {
    if (!res.headersSent) {
      onFail(Object.assign(new Error(`upstream stream closed before a response (RST_STREAM code ${up.rstCode})`),
        { code: 'ERR_HTTP2_STREAM_CLOSED' }));
    } else if (!res.writableEnded) {
      res.destroy();
    }
  });
  req.pipe(up);
}
{{- end}}

const server = http.createServer((req, res) => {
{{- if eq (var "upstream_proto") "h2c"}}
  h2Forward(req, res);
  return;
{{- end}}
  const origin = origins[next++ % origins.length];
  const headers = { ...req.headers };
  delete headers.connection;
  const up = upstream.request({
    agent, host: origin.host, port: origin.port, method: req.method, path: req.url, headers,
  }, (ures) => {
    res.writeHead(ures.statusCode, ures.headers);
    ures.pipe(res);
    ures.on('error', (err) => {
      log(`upstream response error: ${err.code || ''} ${err.message} ${req.method} ${req.url}`);
      res.destroy();
    });
    ures.on('aborted', () => {
      log(`upstream response aborted: ${req.method} ${req.url}`);
      res.destroy();
    });
  });
  if (readMs > 0) {
    up.setTimeout(readMs, () => {
      log(`upstream timeout after ${readMs} ms: ${req.method} ${req.url}`);
      up.destroy(Object.assign(new Error('upstream timeout'), { code: 'GATECRASH_TIMEOUT' }));
    });
  }
  up.on('error', (err) => fail(err, req, res));
  req.pipe(up);
});
server.keepAliveTimeout = {{ms (var "client_idle_timeout")}};
server.listen({{.ListenPort}}, '{{.ListenHost}}', () => {
  log(`gateway node ${process.version} listening on {{.Listen}}, upstream keepAlive ${keepAlive}, idle ${idleMs} ms`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
