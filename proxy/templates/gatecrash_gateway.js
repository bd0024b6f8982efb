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

function log(line) {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

const server = http.createServer((req, res) => {
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
  up.on('error', (err) => {
    log(`proxy error: ${err.code || ''} ${err.message} ${req.method} ${req.url}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = err.code === 'GATECRASH_TIMEOUT' ? 504 : 502;
    const body = JSON.stringify({ message: err.message, code: err.code });
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  req.pipe(up);
});
server.keepAliveTimeout = {{ms (var "client_idle_timeout")}};
server.listen({{.ListenPort}}, '{{.ListenHost}}', () => {
  log(`gateway node ${process.version} listening on {{.Listen}}, upstream keepAlive ${keepAlive}, idle ${idleMs} ms`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
