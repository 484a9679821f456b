import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin } from '../helpers/origin.js';
import { curl } from '../helpers/clients.js';
import { startCli } from '../helpers/cli-process.js';

const SIZE = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
/** Peak RSS growth allowed while 100 MB flow through; buffering whole bodies would blow it. */
const RSS_GROWTH_LIMIT_KIB = 48 * 1024;

const generated = (bytes: number): Readable => {
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) { this.push(null); return; }
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= piece.length;
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
  const cli = startCli(t, ['-c', file]);
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
