import https from 'node:https';
import type net from 'node:net';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { runCommand } from '../helpers/clients.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';

const certs = makeOriginCertificates(['early.test']);

/**
 * An origin that answers as soon as a request's head arrives, before reading its body (then
 * discards the body, as nginx does); on /reset it cuts its response short instead.
 */
const startEarlyOrigin = async (t: TestContext): Promise<{ port: number; answered: () => number }> => {
  let answered = 0;
  const server = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    answered += 1;
    if (req.url === '/reset') {
      res.writeHead(200, { 'content-length': '300000' });
      res.write(Buffer.alloc(100_000, 1));
      setTimeout(() => res.socket?.destroy(), 50);
      return;
    }
    res.writeHead(413, { 'content-type': 'text/plain' });
    res.end('too large\n');
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { port: (server.address() as net.AddressInfo).port, answered: () => answered };
};

for (const version of ['--http2', '--http1.1'] as const) {
  test(`an intercepted ${version === '--http2' ? 'HTTP/2' : 'HTTP/1.1'} upload answered early by the origin ends with that answer, not with the client's timeout`, async (t) => {
    await testProxyCa();
    const origin = await startEarlyOrigin(t);
    const proxy = await startTestProxy(t, {
      resolve: { 'early.test': '127.0.0.1' },
      upstream: { tls: { extra_ca: [certs.caCertPath] } },
      rules: [{ name: 'upload', hosts: ['early.test'], ports: [origin.port], paths: ['/upload'], methods: ['PUT'] }],
    });
    // 2 MB of unknown length from stdin (chunked over HTTP/1.1, DATA frames over HTTP/2).
    const result = await runCommand('sh', ['-c',
      `head -c 2097152 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --max-time 15 ${version} --cacert ${testProxyCaPath} ` +
      `-x ${proxy.url} -T - https://early.test:${origin.port}/upload`], { timeoutMs: 30_000 });
    assert.equal(result.stdout, '413', `curl exit ${result.code}: ${result.stderr}`);
    assert.equal(result.code, 0, 'curl finished on its own, not by --max-time (exit 28)');
    assert.equal(origin.answered(), 1);
    const flows = await proxy.waitForFlows(1);
    const upload = flows.find((flow) => flow.method === 'PUT');
    assert.equal(upload?.status, 413);
  });
}

test('over HTTP/2, a response the origin cuts short reaches the client as a stream error, never as a complete short body', async (t) => {
  await testProxyCa();
  const origin = await startEarlyOrigin(t);
  const proxy = await startTestProxy(t, {
    resolve: { 'early.test': '127.0.0.1' },
    upstream: { tls: { extra_ca: [certs.caCertPath] } },
    rules: [{ name: 'reset', hosts: ['early.test'], ports: [origin.port], inspect: true }],
  });
  const result = await runCommand('curl', ['-s', '-o', '/dev/null', '--max-time', '15', '--http2', '--cacert', testProxyCaPath, '-x', proxy.url,
    `https://early.test:${origin.port}/reset`], { timeoutMs: 30_000 });
  assert.notEqual(result.code, 0, 'curl must not take the cut response for a whole one');
  assert.notEqual(result.code, 28, 'and must not wait for its timeout');
  const flows = await proxy.waitForFlows(1);
  assert.equal(flows.find((flow) => flow.method === 'GET')?.errorCode, 'PCL_ERR_UPSTREAM_RESET');
});
