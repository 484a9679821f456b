import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { curl, runCommand } from '../helpers/clients.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCa, testProxyCaPath, type TestProxy } from '../helpers/test-proxy.js';

// HTTP/2 to origins: intercepted requests go to an origin that takes h2 (ALPN) over one
// multiplexed connection; an origin that speaks only HTTP/1.1 keeps its pool. The origin is
// node:http2 on loopback and records every connection, session and stream it saw.

const HOST = 'h2.test';
const certs = makeOriginCertificates([HOST]);

interface SeenStream { readonly path: string; readonly method: string; readonly headers: http2.IncomingHttpHeaders; readonly bodySha: string; readonly bodyBytes: number; readonly version: string }

interface H2Origin {
  readonly port: number;
  readonly streams: SeenStream[];
  connections(): number;
  sessions(): number;
  /** Most streams open at once on one session. */
  peakStreams(): number;
}

const startH2Origin = async (t: TestContext, options: { allowHTTP1?: boolean; goawayAfter?: number; maxConcurrentStreams?: number } = {}): Promise<H2Origin> => {
  const streams: SeenStream[] = [];
  let connections = 0;
  let sessions = 0;
  let peak = 0;
  const server = http2.createSecureServer({
    cert: certs.cert, key: certs.key, allowHTTP1: options.allowHTTP1 ?? false,
    ...(options.maxConcurrentStreams === undefined ? {} : { settings: { maxConcurrentStreams: options.maxConcurrentStreams } }),
  });
  server.on('secureConnection', () => { connections += 1; });
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions += 1;
    open.add(session);
    session.on('close', () => open.delete(session));
    let served = 0;
    let active = 0;
    session.on('stream', (stream) => {
      served += 1;
      active += 1;
      peak = Math.max(peak, active);
      stream.on('close', () => { active -= 1; });
      // After this many streams the origin tells the client to go away (a graceful GOAWAY).
      if (options.goawayAfter !== undefined && served === options.goawayAfter) setImmediate(() => session.close());
    });
  });
  server.on('request', (req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => { hash.update(chunk); bytes += chunk.length; });
    req.on('end', () => {
      const path = req.url;
      streams.push({ path, method: req.method, headers: req.headers, bodySha: hash.digest('hex'), bodyBytes: bytes, version: req.httpVersion });
      if (path.startsWith('/hang')) return;
      if (path.startsWith('/ok/drip')) {
        // Holds its stream for 2 s, never silent for long: a byte every 200 ms.
        res.writeHead(200);
        let left = 10;
        const timer = setInterval(() => {
          left -= 1;
          if (left > 0) res.write('.');
          else { clearInterval(timer); res.end('.\n'); }
        }, 200);
        res.on('close', () => clearInterval(timer));
        return;
      }
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('content-type', 'text/plain');
      res.writeHead(path.startsWith('/created') ? 201 : 200);
      res.end(`h2 origin saw ${req.method} ${path} (${bytes} bytes, HTTP/${req.httpVersion})\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // server.close() waits for open sessions, and the proxy keeps its connection for upstream_idle.
  t.after(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const session of open) session.destroy();
  }));
  return { port: (server.address() as net.AddressInfo).port, streams, connections: () => connections, sessions: () => sessions, peakStreams: () => peak };
};

const proxyFor = (t: TestContext, origin: H2Origin, extra: Record<string, unknown> = {}): Promise<TestProxy> =>
  startTestProxy(t, {
    resolve: { [HOST]: '127.0.0.1' },
    upstream: { tls: { extra_ca: [certs.caCertPath] }, ...(extra.upstream as object | undefined) },
    // Paths make the tunnel intercepted (and keep the origin unconnected until a request is allowed).
    // inspect: true alone allows the whole host, so the upstream connection is opened ahead, during the client's handshake.
    rules: [extra.wholeHost === true
      ? { name: 'h2-origin', hosts: [HOST], ports: [origin.port], inspect: true }
      : { name: 'h2-origin', hosts: [HOST], ports: [origin.port], paths: ['/ok', '/created', '/hang'] }],
    ...(extra.timeouts ? { timeouts: extra.timeouts } : {}),
  });

test('a burst of 100 requests over one HTTP/2 client connection goes to an h2 origin over one upstream connection, 20 streams at a time as the origin asks; a denied one reaches nothing', { timeout: 60_000 }, async (t) => {
  await testProxyCa();
  const origin = await startH2Origin(t, { maxConcurrentStreams: 20 });
  const proxy = await proxyFor(t, origin);
  const base = `https://${HOST}:${origin.port}`;
  // curl multiplexes parallel transfers over one connection (one tunnel) when it negotiates h2.
  const args = ['-s', '--http2', '--parallel', '--parallel-max', '100', '--cacert', testProxyCaPath, '-x', proxy.url,
    '-w', '%{http_code} %{url_effective}\\n'];
  for (let i = 0; i < 100; i += 1) args.push('-o', '/dev/null', `${base}/ok/${i}`);
  args.push('-o', '/dev/null', `${base}/denied`);
  const result = await runCommand('curl', args, { timeoutMs: 50_000 });
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines.length, 101);
  assert.equal(lines.filter((l) => l.startsWith('200 ') && / \S+\/ok\/\d+$/.test(l)).length, 100, result.stdout);
  assert.ok(lines.some((l) => l.startsWith('403 ') && l.endsWith('/denied')), result.stdout);
  assert.equal(origin.streams.length, 100);
  assert.deepEqual(new Set(origin.streams.map((s) => s.path)).size, 100);
  assert.ok(!origin.streams.some((s) => s.path === '/denied'));
  assert.equal(origin.connections(), 1, 'the burst opened more than one upstream connection');
  assert.equal(origin.sessions(), 1);
  assert.ok(origin.peakStreams() > 1 && origin.peakStreams() <= 20, `peak concurrent streams ${origin.peakStreams()}`);
  const flows = await proxy.waitForFlows(102);
  assert.equal(flows.filter((f) => f.kind === 'tunnel').length, 1, 'curl used more than one tunnel');
});

test('requests from an HTTP/1.1 client reach an h2 origin intact: streamed upload, status, repeated response headers, Host as :authority', { timeout: 60_000 }, async (t) => {
  await testProxyCa();
  const origin = await startH2Origin(t);
  const proxy = await proxyFor(t, origin);
  const base = `https://${HOST}:${origin.port}`;
  const body = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
  const expectedSha = createHash('sha256').update(body).digest('hex');
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-h2-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'upload.bin');
  writeFileSync(file, body);
  const upload = await curl(['-i', '--http1.1', '--cacert', testProxyCaPath, '-x', proxy.url, '-H', 'X-Trace: one', '-H', 'X-Trace: two',
    '--data-binary', `@${file}`, `${base}/created/upload`]);
  assert.equal(upload.status, 201, upload.stderr);
  assert.match(upload.body, /HTTP\/1\.1 201 Created\r\n/);
  assert.match(upload.body, /set-cookie: a=1\r\n/i);
  assert.match(upload.body, /set-cookie: b=2\r\n/i);
  assert.match(upload.body, new RegExp(`h2 origin saw POST /created/upload \\(${body.length} bytes, HTTP/2.0\\)`));
  const seen = origin.streams.find((s) => s.path === '/created/upload');
  assert.ok(seen);
  assert.equal(seen.bodySha, expectedSha);
  assert.equal(seen.headers[':authority'], `${HOST}:${origin.port}`);
  assert.equal(seen.headers.host, undefined);
  assert.equal(seen.headers['x-trace'], 'one, two');
  assert.equal(seen.headers['proxy-connection'], undefined);
  assert.equal(seen.headers.connection, undefined);
  // A second request on a new client connection reuses the same upstream connection.
  const again = await curl(['--http1.1', '--cacert', testProxyCaPath, '-x', proxy.url, `${base}/ok/again`]);
  assert.equal(again.status, 200);
  assert.equal(origin.connections(), 1);
});

test('an origin that sends GOAWAY gets its next requests on a new connection, and none is lost', { timeout: 60_000 }, async (t) => {
  await testProxyCa();
  const origin = await startH2Origin(t, { goawayAfter: 3 });
  const proxy = await proxyFor(t, origin);
  const base = `https://${HOST}:${origin.port}`;
  const statuses: number[] = [];
  for (let i = 0; i < 8; i += 1) {
    statuses.push((await curl(['--http1.1', '--cacert', testProxyCaPath, '-x', proxy.url, `${base}/ok/sequential-${i}`])).status);
  }
  assert.deepEqual(statuses, Array(8).fill(200));
  assert.equal(origin.streams.length, 8);
  assert.ok(origin.connections() >= 3, `expected a new connection after each GOAWAY, saw ${origin.connections()}`);
});

test('an origin that goes away in the middle of a burst, 5 streams at a time: the requests it never took go out on a new connection, each exactly once', { timeout: 60_000 }, async (t) => {
  await testProxyCa();
  const origin = await startH2Origin(t, { goawayAfter: 7, maxConcurrentStreams: 5 });
  const proxy = await proxyFor(t, origin);
  const base = `https://${HOST}:${origin.port}`;
  const args = ['-s', '--http2', '--parallel', '--parallel-max', '40', '--cacert', testProxyCaPath, '-x', proxy.url, '-w', '%{http_code}\\n'];
  for (let i = 0; i < 40; i += 1) args.push('-o', '/dev/null', '-X', i % 2 === 0 ? 'GET' : 'POST', '--data-binary', i % 2 === 0 ? '' : `body-${i}`, `${base}/ok/burst-${i}`);
  const result = await runCommand('curl', args, { timeoutMs: 50_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.stdout.trim().split('\n'), Array(40).fill('200'));
  const paths = origin.streams.map((s) => s.path).sort();
  assert.equal(paths.length, 40, 'a request was lost or sent twice');
  assert.equal(new Set(paths).size, 40);
  assert.ok(origin.connections() >= 2);
});

test('under a whole-host rule the h2 connection opened ahead (during the client handshake) carries the whole burst', { timeout: 60_000 }, async (t) => {
  await testProxyCa();
  const origin = await startH2Origin(t);
  const proxy = await proxyFor(t, origin, { wholeHost: true });
  const base = `https://${HOST}:${origin.port}`;
  const args = ['-s', '--http2', '--parallel', '--parallel-max', '50', '--cacert', testProxyCaPath, '-x', proxy.url, '-w', '%{http_code}\\n'];
  for (let i = 0; i < 50; i += 1) args.push('-o', '/dev/null', `${base}/any/${i}`);
  const result = await runCommand('curl', args, { timeoutMs: 50_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.stdout.trim().split('\n'), Array(50).fill('200'));
  assert.equal(origin.streams.length, 50);
  assert.equal(origin.connections(), 1);
  assert.equal(origin.sessions(), 1);
});

test('plain proxy requests for https:// URLs (absolute form, no CONNECT) share the h2 connection too', { timeout: 60_000 }, async (t) => {
  await testProxyCa();
  const origin = await startH2Origin(t);
  const proxy = await proxyFor(t, origin);
  const { port } = new URL(proxy.url);
  const get = (n: number): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: Number(port), path: `https://${HOST}:${origin.port}/ok/absolute-${n}`, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  const answers = await Promise.all(Array.from({ length: 20 }, (_, n) => get(n)));
  assert.deepEqual(answers.map((a) => a.status), Array(20).fill(200));
  assert.match(answers[0]!.body, /h2 origin saw GET \/ok\/absolute-0 \(0 bytes, HTTP\/2\.0\)/);
  assert.equal(origin.connections(), 1);
});

test('upstream.http2: false speaks HTTP/1.1 to an origin that offers both', { timeout: 60_000 }, async (t) => {
  await testProxyCa();
  const origin = await startH2Origin(t, { allowHTTP1: true });
  const proxy = await proxyFor(t, origin, { upstream: { http2: false } });
  const result = await curl(['--http2', '--cacert', testProxyCaPath, '-x', proxy.url, `https://${HOST}:${origin.port}/ok/h1`]);
  assert.equal(result.status, 200);
  assert.match(result.body, /HTTP\/1\.1\)/);
  assert.equal(origin.streams[0]?.version, '1.1');
});

test('an h2 origin that takes too long to answer gives 504 naming the timeout, also to a request waiting for a free stream; the proxy goes on serving', { timeout: 60_000 }, async (t) => {
  await testProxyCa();
  // One stream at a time: while /hang holds it, the second request waits in the proxy.
  const origin = await startH2Origin(t, { maxConcurrentStreams: 1 });
  const proxy = await proxyFor(t, origin, { timeouts: { upstream_response: '1s' } });
  const base = `https://${HOST}:${origin.port}`;
  const slow = await curl(['--cacert', testProxyCaPath, '-x', proxy.url, `${base}/hang`]);
  assert.equal(slow.status, 504);
  assert.match(slow.body, /within 1000 ms/);
  // A response that keeps its stream for 2 s (never silent for 1 s) and a request behind it.
  const drip = curl(['--cacert', testProxyCaPath, '-x', proxy.url, `${base}/ok/drip`]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const queued = await curl(['--cacert', testProxyCaPath, '-x', proxy.url, `${base}/ok/queued`]);
  assert.equal(queued.status, 504, queued.body);
  assert.match(queued.body, /within 1000 ms/);
  assert.equal((await drip).status, 200);
  assert.equal((await drip).body, '..........\n');
  assert.ok(!origin.streams.some((seen) => seen.path === '/ok/queued'), 'the request that timed out waiting reached the origin');
  const after = await curl(['--cacert', testProxyCaPath, '-x', proxy.url, `${base}/ok/after`]);
  assert.equal(after.status, 200);
});
