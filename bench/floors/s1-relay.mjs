// S1 floor (docs/performance.md, "Where the microseconds go"): the least a Node forward proxy
// does per request: node's HTTP server, undici's Pool upstream (streamed both ways), hop-by-hop
// headers dropped, and with LOG=FILE one JSON access-log line per request, written in batches
// of 20 ms. No policy, no flow record. Listens on 127.0.0.1:PORT (default 18190).
//   PORT=18190 LOG=/tmp/relay.log taskset -c 0 node bench/floors/s1-relay.mjs
import http from 'node:http';
import fs from 'node:fs';
import { Pool } from 'undici';
const pools = new Map();
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const log = process.env.LOG ? fs.createWriteStream(process.env.LOG, { flags: 'a' }) : undefined;
let batch = []; let timer;
const line = (o) => { batch.push(JSON.stringify(o) + '\n'); timer ??= setTimeout(() => { log.write(batch.join('')); batch = []; timer = undefined; }, 20); };
http.createServer({ noDelay: true }, (req, res) => {
  const url = new URL(req.url);
  let pool = pools.get(url.origin);
  if (!pool) { pool = new Pool(url.origin, { connections: 64 }); pools.set(url.origin, pool); }
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (!HOP.has(req.rawHeaders[i].toLowerCase())) headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const started = Date.now();
  pool.dispatch({ path: url.pathname + url.search, method: req.method, headers, body: null }, {
    onConnect() {}, onError(err) { res.statusCode = 502; res.end(String(err)); },
    onHeaders(status, raw) {
      const out = [];
      for (let i = 0; i < raw.length; i += 2) { const n = raw[i].toString('latin1'); if (!HOP.has(n.toLowerCase())) out.push(n, raw[i + 1].toString('latin1')); }
      res.writeHead(status, out); return true;
    },
    onData(chunk) { res.write(chunk); return true; },
    onComplete() { res.end(); if (log) line({ time: new Date().toISOString(), method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started }); },
  });
}).listen(Number(process.env.PORT ?? 18190), '127.0.0.1', () => console.log('relay listening'));
