import assert from 'node:assert/strict';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import { test, type TestContext } from 'node:test';
import { curl } from '../helpers/clients.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy, testProxyCa, testProxyCaPath } from '../helpers/test-proxy.js';

// Upstream TLS session resumption: an origin that closes every connection after its response
// makes the proxy open a new TLS connection per request; from the second on, the proxy resumes
// the session the origin issued for that host name. A session is never offered to another name,
// even one the same origin (same ticket keys) serves. The origin is node:https on loopback and
// records, per TLS connection, the name it served (its request's Host: a server sees no SNI on a
// resumed TLS 1.2 handshake) and whether the handshake resumed a session.

const NAME_A = 'resume-a.test';
const NAME_B = 'resume-b.test';
const certs = makeOriginCertificates([NAME_A, NAME_B]);

interface SeenHandshake { name: string; readonly resumed: boolean; readonly version: string }

const startClosingOrigin = async (t: TestContext, maxVersion: tls.SecureVersion): Promise<{ port: number; handshakes: SeenHandshake[]; paths: string[] }> => {
  const handshakes: SeenHandshake[] = [];
  const paths: string[] = [];
  const bySocket = new Map<net.Socket, SeenHandshake>();
  const server = https.createServer({ cert: certs.cert, key: certs.key, maxVersion }, (req, res) => {
    paths.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
    const seen = bySocket.get(req.socket);
    if (seen) seen.name = (req.headers.host ?? '').replace(/:\d+$/, '');
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    res.end(`ok ${req.url}\n`);
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const seen: SeenHandshake = { name: '', resumed: socket.isSessionReused(), version: socket.getProtocol() ?? '' };
    bySocket.set(socket, seen);
    handshakes.push(seen);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { port: (server.address() as net.AddressInfo).port, handshakes, paths };
};

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`upstream ${maxVersion}: new connections to an origin resume its session for the same name, never for another`, { timeout: 60_000 }, async (t) => {
    await testProxyCa();
    const origin = await startClosingOrigin(t, maxVersion);
    const proxy = await startTestProxy(t, {
      resolve: { [NAME_A]: '127.0.0.1', [NAME_B]: '127.0.0.1' },
      upstream: { tls: { extra_ca: [certs.caCertPath] } },
      // Paths: intercepted, and nothing is opened upstream before a request is allowed.
      rules: [{ name: 'resume-origin', hosts: [NAME_A, NAME_B], ports: [origin.port], paths: ['/r'] }],
    });
    const get = async (name: string, path: string): Promise<number> =>
      (await curl(['--http1.1', '--cacert', testProxyCaPath, '-x', proxy.url, `https://${name}:${origin.port}${path}`])).status;

    for (const i of [1, 2, 3]) assert.equal(await get(NAME_A, `/r/a${i}`), 200);
    assert.equal(await get(NAME_B, '/r/b1'), 200);
    assert.equal(await get(NAME_B, '/r/b2'), 200);
    // Refused by the policy: reaches nothing, not even a handshake.
    assert.equal(await get(NAME_A, '/secret'), 403);

    assert.deepEqual(origin.paths, [`${NAME_A}:${origin.port}/r/a1`, `${NAME_A}:${origin.port}/r/a2`, `${NAME_A}:${origin.port}/r/a3`, `${NAME_B}:${origin.port}/r/b1`, `${NAME_B}:${origin.port}/r/b2`]);
    assert.deepEqual(origin.handshakes.map((h) => [h.name, h.resumed, h.version]), [
      [NAME_A, false, maxVersion], [NAME_A, true, maxVersion], [NAME_A, true, maxVersion],
      // The first connection for another name is a full handshake, though the origin would have resumed A's session.
      [NAME_B, false, maxVersion], [NAME_B, true, maxVersion],
    ]);
  });
}
