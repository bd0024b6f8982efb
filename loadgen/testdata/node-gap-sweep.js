// A real client for gatecrash's cross-check: Node's http.Agent with keepAlive, driven the way
// gatecrash's gap-sweep pattern drives its connections. Each worker has an agent of its own
// with one socket, as each gatecrash worker has one connection: a shared agent hands out the
// most recently freed socket (LIFO), so a socket's idle time would not be the worker's gap and
// the two would not be measuring the same thing. Each worker sends a request, reads the
// response, waits its next gap (sweeping across center ± spread in steps, each worker starting
// at a different phase), and repeats until the duration is over. Prints one JSON line:
// {"requests": N, "ok": N, "errors": {"ECONNRESET": N, "socket hang up": N, ...}}.
//
// usage: node node-gap-sweep.js URL CENTER_MS SPREAD_MS STEP_MS WORKERS DURATION_MS
'use strict';
const http = require('http');

const [url, centerMs, spreadMs, stepMs, workers, durationMs] = process.argv.slice(2);
const center = Number(centerMs), spread = Number(spreadMs), step = Number(stepMs);
const n = Number(workers), duration = Number(durationMs);
const lo = center - spread;
const steps = Math.floor((2 * spread) / step) + 1;
const agents = Array.from({ length: n }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
const end = Date.now() + duration;
const out = { requests: 0, ok: 0, errors: {} };
let running = n;

function gap(w, k) {
  const phase = Math.floor((w * steps) / n);
  return lo + ((k - 1 + phase) % steps) * step;
}

function worker(w, k) {
  if (Date.now() >= end) {
    if (--running === 0) {
      agents.forEach((a) => a.destroy());
      console.log(JSON.stringify(out));
    }
    return;
  }
  out.requests++;
  const next = () => setTimeout(() => worker(w, k + 1), gap(w, k + 1));
  const req = http.get(url, { agent: agents[w] }, (res) => {
    res.resume();
    res.on('end', () => {
      if (res.statusCode < 400) out.ok++;
      else out.errors['status ' + res.statusCode] = (out.errors['status ' + res.statusCode] || 0) + 1;
      next();
    });
  });
  req.on('error', (err) => {
    const key = err.code === 'ECONNRESET' && err.message === 'socket hang up' ? 'socket hang up' : (err.code || err.message);
    out.errors[key] = (out.errors[key] || 0) + 1;
    next();
  });
}

for (let w = 0; w < n; w++) worker(w, 1);
