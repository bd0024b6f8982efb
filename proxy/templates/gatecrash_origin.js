// The origin gatecrash starts as origin.kind node: Node's own http server, reading the whole
// request body and answering 200 "ok\n". What is tested is Node's connection handling
// (server.keepAliveTimeout), not this handler. Arguments: host port keepAliveTimeoutMs.
'use strict';
const http = require('http');

const [host, port, keepAliveMs] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '3' });
    res.end('ok\n');
  });
});
server.keepAliveTimeout = Number(keepAliveMs);
server.listen(Number(port), host, () => {
  console.log(`node ${process.version} listening on ${host}:${port}, keepAliveTimeout ${server.keepAliveTimeout} ms`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
