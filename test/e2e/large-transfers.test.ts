import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { curl } from '../helpers/clients.js';
import { startCli } from '../helpers/cli-process.js';

const SIZE = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
/**
 * Peak RSS growth allowed while 100 MB flow through; buffering a whole body would add 100 MB.
 * Streaming measured 0.2-36 MB of growth here (the garbage collector's timing), once just over 48.
 */
const RSS_GROWTH_LIMIT_KIB = 64 * 1024;

/** `bytes` of body, made only as fast as the consumer reads (onChunk sees each piece made). */
const generated = (bytes: number, onChunk?: (length: number) => void): Readable => {
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) { this.push(null); return; }
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= piece.length;
      onChunk?.(piece.length);
      this.push(piece);
    },
  });
};

test('100 MB stream through plain HTTP (down and up) and a CONNECT tunnel with the proxy RSS bounded', async (t) => {
  const origin = await startHttpOrigin(t, (req, res, seen) => {
    if (req.method === 'POST') {
      res.end(String(seen.bodyBytes));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
    generated(SIZE).pipe(res);
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-big-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, `
listen: [{ address: 127.0.0.1:0 }]
resolve: { big.test: 127.0.0.1 }
missing_sni: allow   # the tunnel test sends plain HTTP through CONNECT
destinations: { allow_ranges: [127.0.0.0/8] }
log: { format: json, file: ${path.join(dir, 'access.log')} }
rules:
  - { name: big, hosts: [big.test], ports: [${origin.port}] }
`);
  const cli = startCli(t, ['-c', file, '--workers', '1']);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  const proxy = `http://${address}`;
  // Warm up so the baseline includes the code paths and pools.
  await curl(['-x', proxy, '-o', '/dev/null', `http://big.test:${origin.port}/warm`]);
  const baseline = cli.rssKiB();

  const down = await curl(['-x', proxy, '-o', '/dev/null', '-w', '%{size_download}\n', `http://big.test:${origin.port}/down`], { timeoutMs: 120_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, new RegExp(`^${SIZE}\\n`));

  const tunnel = await curl(['-p', '-x', proxy, '-o', '/dev/null', '-w', '%{size_download}\n', `http://big.test:${origin.port}/tunnel`], { timeoutMs: 120_000 });
  assert.equal(tunnel.code, 0, tunnel.stderr);
  assert.match(tunnel.stdout, new RegExp(`^${SIZE}\\n`));

  const uploaded = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(address?.split(':')[1]), method: 'POST', path: `http://big.test:${origin.port}/up`, headers: { host: `big.test:${origin.port}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('end', () => resolve(text));
    });
    req.on('error', reject);
    generated(SIZE).pipe(req);
  });
  assert.equal(uploaded, String(SIZE));

  const growth = cli.peakRssKiB() - baseline;
  t.diagnostic(`proxy RSS baseline ${baseline} KiB, peak growth ${growth} KiB over 3 x 100 MB`);
  assert.ok(growth < RSS_GROWTH_LIMIT_KIB, `peak RSS grew by ${growth} KiB`);
  assert.equal(await cli.stop(), 0);
});

test('100 MB intercepted downloads over HTTP/2 and HTTP/1.1 with the proxy RSS bounded; a slow HTTP/2 client holds the origin back', async (t) => {
  const certs = makeOriginCertificates(['big.test']);
  /** Bytes the origin's generator handed to its socket, per request path. */
  const produced = new Map<string, number>();
  const origin = await startHttpsOrigin(t, certs, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
    // Counted where it is made: a 'data' listener would keep the stream flowing after the proxy
    // hung up (pipe unpipes, the listener stays) and count bytes that went nowhere.
    generated(SIZE, (length) => produced.set(req.url ?? '', (produced.get(req.url ?? '') ?? 0) + length)).pipe(res);
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-big-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, `
listen: [{ address: 127.0.0.1:0 }]
state_dir: ./state
resolve: { big.test: 127.0.0.1 }
destinations: { allow_ranges: [127.0.0.0/8] }
upstream: { tls: { extra_ca: [${certs.caCertPath}] } }
log: { format: json, file: ./access.log }
rules:
  - { name: big, hosts: [big.test], ports: [${origin.port}], inspect: true }
`);
  const cli = startCli(t, ['-c', file, '--workers', '1'], dir);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  const caFile = path.join(dir, 'state', 'ca.pem');
  const through = (args: readonly string[], url: string) =>
    curl(['--cacert', caFile, '-x', `http://${address}`, '-o', '/dev/null', '-w', '%{http_version} %{size_download}\n', ...args, url], { timeoutMs: 120_000 });
  await through([], `https://big.test:${origin.port}/warm`);
  const baseline = cli.rssKiB();

  for (const [version, args] of [['2', []], ['1.1', ['--http1.1']]] as const) {
    const result = await through([...args, '--max-time', '100'], `https://big.test:${origin.port}/down-${version}`);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${version} ${SIZE}\n`, `curl negotiated HTTP/${version} with the proxy and got every byte`);
  }

  // A client reading 2 MB/s for 4 s: the origin may only get as far ahead as the socket buffers
  // and the proxy's bounded queues allow. Measured here: 17-18 MiB; 37 MiB (and 48 MiB more proxy
  // RSS) when the HTTP/2 adapter ignored its TLS socket's backlog, where only curl's HTTP/2 window
  // held it back.
  const slow = await through(['--limit-rate', '2M', '--max-time', '4'], `https://big.test:${origin.port}/slow`);
  assert.equal(slow.code, 28, `curl stopped at its time limit: ${slow.stderr}`);
  const pulled = produced.get('/slow') ?? 0;
  t.diagnostic(`slow client: the origin produced ${(pulled / 1048576).toFixed(1)} MiB in 4 s`);
  assert.ok(pulled < 28 * 1024 * 1024, `the origin was held back (${pulled} bytes produced)`);

  const growth = cli.peakRssKiB() - baseline;
  t.diagnostic(`proxy RSS baseline ${baseline} KiB, peak growth ${growth} KiB`);
  assert.ok(growth < RSS_GROWTH_LIMIT_KIB, `peak RSS grew by ${growth} KiB`);
  assert.equal(await cli.stop(), 0);
});
