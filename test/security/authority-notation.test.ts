import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fill, NOTATION_HOST, NOTATIONS } from '../helpers/authority-notations.js';
import { startHttpOrigin } from '../helpers/origin.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';
import { startTestProxy } from '../helpers/test-proxy.js';

/**
 * The notation table of test/helpers/authority-notations.ts, sent raw through a real proxy as a
 * CONNECT target and as an absolute-form URL. The policy allows allowed.test (and its
 * subdomains) on the origin's port, and every name is pinned to the recording origin, so a
 * notation the proxy reinterpreted as an allowed destination would show up at the origin. A
 * refusal must be a 400 and leave the origin without a byte (without even a connection).
 */
test('every refused authority notation gets 400 in CONNECT and absolute-form; the origin sees nothing', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, {
    resolve: { [NOTATION_HOST]: '127.0.0.1', [`xn--bcher-kva.${NOTATION_HOST}`]: '127.0.0.1', 'evil.test': '127.0.0.1' },
    rules: [{ name: 'allowed', hosts: [NOTATION_HOST, `*.${NOTATION_HOST}`, '127.0.0.1'], ports: [origin.port, 80, 443] }],
    missing_sni: 'allow',
  });
  const rows = NOTATIONS.filter((row) => !row.unitOnly && (row.connect !== 'ok' || row.absolute !== 'ok'));
  assert.ok(rows.length >= 45, `only ${rows.length} rows`);
  for (const row of rows) {
    await t.test(`${row.name}: ${JSON.stringify(row.authority)}`, async () => {
      const authority = fill(row.authority, origin.port);
      if (row.connect !== 'ok') {
        const reply = await sendRaw(proxy.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`, { idleMs: 300 });
        // Credentials are a 403 (userinfo-in-url), or a 400 when Node's parser already refuses the request line.
        const expected = row.connect === 'userinfo-in-url' ? [400, 403] : [400];
        assert.ok(expected.includes(statusOf(reply)), `CONNECT ${authority}: ${reply.slice(0, 200)}`);
      }
      if (row.absolute !== 'ok') {
        const reply = await sendRaw(proxy.port, `GET http://${authority}/notation HTTP/1.1\r\nHost: ${NOTATION_HOST}:${origin.port}\r\nConnection: close\r\n\r\n`, { idleMs: 300 });
        const expected = row.absolute === 'userinfo-in-url' ? [400, 403] : [400];
        assert.ok(expected.includes(statusOf(reply)), `absolute-form ${authority}: ${reply.slice(0, 200)}`);
      }
      assert.deepEqual(origin.seen.map((seen) => seen.url), []);
      assert.equal(origin.connections(), 0);
    });
  }
});

test('the accepted notations of the same table do reach the origin, with the path as sent', async (t) => {
  const origin = await startHttpOrigin(t);
  const proxy = await startTestProxy(t, {
    resolve: { [NOTATION_HOST]: '127.0.0.1' },
    rules: [{ name: 'allowed', hosts: [NOTATION_HOST], ports: [origin.port] }],
    missing_sni: 'allow',
  });
  const rows = NOTATIONS.filter((row) => row.absolute === 'ok' && row.host === 'HOST' && row.port === 'PORT' || row.name === 'a name in mixed case');
  assert.ok(rows.length >= 3);
  for (const [index, row] of rows.entries()) {
    const authority = fill(row.authority, origin.port);
    const reply = await sendRaw(proxy.port, `GET http://${authority}/ok-${index} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`, { idleMs: 300 });
    assert.equal(statusOf(reply), 200, `${row.name}: ${reply.slice(0, 200)}`);
    assert.equal(origin.seen.at(-1)?.url, `/ok-${index}`);
    const tunnel = await sendRaw(proxy.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\nGET /tunnel-${index} HTTP/1.1\r\nHost: ${NOTATION_HOST}:${origin.port}\r\nConnection: close\r\n\r\n`, { idleMs: 500 });
    assert.equal(statusOf(tunnel), 200, `${row.name}: ${tunnel.slice(0, 200)}`);
    assert.equal(origin.seen.at(-1)?.url, `/tunnel-${index}`, `${row.name}: ${tunnel.slice(0, 300)}`);
  }
});
