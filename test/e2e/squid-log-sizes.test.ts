import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { formatSquid } from '../../src/logging/access-log-format.js';
import { startHttpOrigin } from '../helpers/origin.js';
import { startTestProxy } from '../helpers/test-proxy.js';

/** Every byte the client received on a connection, until the proxy closes it or `idleMs` of silence. */
const exchange = (port: number, payload: string, idleMs = 300): Promise<Buffer> => new Promise((resolve, reject) => {
  const chunks: Buffer[] = [];
  const socket = net.connect(port, '127.0.0.1', () => socket.write(payload));
  const done = (): void => {
    socket.destroy();
    resolve(Buffer.concat(chunks));
  };
  let timer = setTimeout(done, idleMs);
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    clearTimeout(timer);
    timer = setTimeout(done, idleMs);
  });
  socket.on('end', done);
  socket.on('error', reject);
});

/** Squid's native format: time elapsed client code/status bytes method URL user hierarchy type. */
const squidFields = (line: string): { code: string; bytes: number; hierarchy: string } => {
  const fields = line.trim().split(/\s+/);
  return { code: fields[3] ?? '', bytes: Number(fields[4]), hierarchy: fields[8] ?? '' };
};

test('Squid-format lines count what the client received, head included: a 403 Portcullis wrote, a forwarded 200, an established tunnel', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, { resolve: { 'allowed.test': '127.0.0.1' }, rules: [{ name: 'web', hosts: ['allowed.test'], ports: [origin.port] }] });

  const denied = await exchange(proxy.port, 'GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\nConnection: close\r\n\r\n');
  const allowed = await exchange(proxy.port, `GET http://allowed.test:${origin.port}/x HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\nConnection: close\r\n\r\n`);
  const refusedTunnel = await exchange(proxy.port, 'CONNECT denied.test:443 HTTP/1.1\r\nHost: denied.test:443\r\n\r\n');
  const tunnel = await exchange(proxy.port, `CONNECT allowed.test:${origin.port} HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\n\r\n`, 100);
  const flows = await proxy.waitForFlows(4);
  const line = (match: (f: typeof flows[number]) => boolean): ReturnType<typeof squidFields> => {
    const flow = flows.find(match);
    assert.ok(flow, 'flow recorded');
    return squidFields(formatSquid(flow));
  };
  const deniedLine = line((f) => f.method === 'GET' && f.host === 'denied.test');
  assert.deepEqual([deniedLine.code, deniedLine.bytes, deniedLine.hierarchy], ['TCP_DENIED/403', denied.length, 'HIER_NONE/-']);
  const allowedLine = line((f) => f.method === 'GET' && f.host === 'allowed.test');
  assert.deepEqual([allowedLine.bytes, allowedLine.hierarchy], [allowed.length, 'HIER_DIRECT/127.0.0.1']);
  const refusedLine = line((f) => f.method === 'CONNECT' && f.host === 'denied.test');
  assert.deepEqual([refusedLine.code, refusedLine.bytes], ['TCP_DENIED/403', refusedTunnel.length]);
  // The tunnel's client closed without sending TLS: 39 bytes of "200 Connection Established".
  const tunnelLine = line((f) => f.method === 'CONNECT' && f.host === 'allowed.test');
  assert.deepEqual([tunnelLine.bytes, tunnelLine.hierarchy], [tunnel.length, 'HIER_DIRECT/127.0.0.1']);
});
