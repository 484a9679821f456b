import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { OriginalDestinationSource } from '../../src/net/original-destination.js';
import { curl } from '../helpers/clients.js';
import { startHttpOrigin, startHttpsOrigin, type Origin } from '../helpers/origin.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';
import { startTestProxy } from '../helpers/test-proxy.js';

/**
 * "Dial what you checked": a name is resolved once per flow, and the address that passed the
 * address guard (and, on transparent listeners, the original-destination check) is the one
 * dialed. The resolver here answers differently on every call after the first: the genuine
 * origin first, a decoy on another loopback address afterwards. A proxy that resolved twice
 * (once to check, once to dial) would reach the decoy.
 */
const REAL = '127.0.0.2';
const DECOY = '127.0.0.3';

const changingLookup = (): { lookup: () => Promise<Array<{ address: string; family: number }>>; calls: () => number } => {
  let calls = 0;
  return {
    lookup: async () => {
      calls += 1;
      return [{ address: calls === 1 ? REAL : DECOY, family: 4 }];
    },
    calls: () => calls,
  };
};

/** The firewall's answer for every redirected connection: the client dialed REAL:port. */
const redirectedTo = (port: number): OriginalDestinationSource => ({
  status: () => ({ available: true }),
  lookup: () => ({ address: REAL, port, family: 4 }),
});

/** The genuine origin on REAL and a decoy on DECOY, both on the same port. */
const twoOrigins = async (t: TestContext, https = false): Promise<{ real: Origin; decoy: Origin; certs?: ReturnType<typeof makeOriginCertificates> }> => {
  if (!https) {
    const real = await startHttpOrigin(t, undefined, { host: REAL });
    return { real, decoy: await startHttpOrigin(t, undefined, { host: DECOY, port: real.port }) };
  }
  const certs = makeOriginCertificates(['rebind.test']);
  const real = await startHttpsOrigin(t, certs, undefined, { host: REAL });
  return { real, decoy: await startHttpsOrigin(t, certs, undefined, { host: DECOY, port: real.port }), certs };
};

test('transparent-http with verify_original_destination dials the address it verified, though DNS answers otherwise a moment later', async (t) => {
  const { real, decoy } = await twoOrigins(t);
  const dns = changingLookup();
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', mode: 'transparent-http' }],
    transparent: { verify_original_destination: true },
    rules: [{ name: 'web', hosts: ['rebind.test'], ports: [real.port] }],
  }, { lookup: dns.lookup, originalDestination: redirectedTo(real.port) });
  const reply = await sendRaw(proxy.port, `GET /first HTTP/1.1\r\nHost: rebind.test:${real.port}\r\nConnection: close\r\n\r\n`);
  assert.equal(statusOf(reply), 200, reply);
  assert.equal(dns.calls(), 1, 'one resolution for the check, the verification and the dial');
  assert.deepEqual(real.seen.map((r) => r.url), ['/first']);
  assert.equal(decoy.connections(), 0);
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(flow?.upstreamAddress, `${REAL}:${real.port}`);
  assert.equal(flow?.originalDestination, `${REAL}:${real.port}`);

  // Now the name resolves to the decoy, which the client did not dial: refused, nobody reached.
  const second = await sendRaw(proxy.port, `GET /second HTTP/1.1\r\nHost: rebind.test:${real.port}\r\nConnection: close\r\n\r\n`);
  assert.equal(statusOf(second), 403, second);
  assert.match(second, /host-mismatch/);
  assert.equal(decoy.connections(), 0);
  assert.deepEqual(real.seen.map((r) => r.url), ['/first']);
});

test('transparent-tls with verify_original_destination splices to the verified address, never to a second answer', async (t) => {
  const { real, decoy, certs } = await twoOrigins(t, true);
  const dns = changingLookup();
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', mode: 'transparent-tls' }],
    transparent: { verify_original_destination: true },
    rules: [{ name: 'tls', hosts: ['rebind.test'], ports: [real.port] }],
  }, { lookup: dns.lookup, originalDestination: redirectedTo(real.port) });
  const result = await curl(['--max-time', '5', '--cacert', certs?.caCertPath ?? '', '--connect-to', `rebind.test:${real.port}:127.0.0.1:${proxy.port}`,
    `https://rebind.test:${real.port}/spliced`]);
  assert.equal(result.status, 200, result.stderr);
  assert.equal(dns.calls(), 1);
  assert.deepEqual(real.seen.map((r) => r.url), ['/spliced']);
  assert.equal(decoy.connections(), 0);
  const [flow] = await proxy.waitForFlows(1);
  assert.equal(flow?.upstreamAddress, `${REAL}:${real.port}`);
  assert.equal(flow?.tunnelMode, 'splice');
});

test('an explicit CONNECT resolves once and dials that answer', async (t) => {
  const { real, decoy, certs } = await twoOrigins(t, true);
  const dns = changingLookup();
  const proxy = await startTestProxy(t, { rules: [{ name: 'tls', hosts: ['rebind.test'], ports: [real.port] }] }, { lookup: dns.lookup });
  const result = await curl(['--max-time', '5', '--cacert', certs?.caCertPath ?? '', '-x', proxy.url, `https://rebind.test:${real.port}/tunnel`]);
  assert.equal(result.status, 200, result.stderr);
  assert.equal(dns.calls(), 1);
  assert.deepEqual(real.seen.map((r) => r.url), ['/tunnel']);
  assert.equal(decoy.connections(), 0);
});
