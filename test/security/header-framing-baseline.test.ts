import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { test, type TestContext } from 'node:test';
import { validateRequestHead } from '../../src/flow/validate-request-head.js';
import { h2Request, sendH2 } from '../helpers/h2-raw.js';
import { sendRaw, statusOf } from '../helpers/raw-client.js';

/**
 * Header framing, before the proxy: what Node's own parsers (nghttp2 for HTTP/2, llhttp for
 * HTTP/1.1) refuse, drop or pass on, and proof that validateRequestHead refuses every bad
 * head they pass on. Each row is sent raw to a bare Node server of the kind the proxy's
 * listeners are; the row holds when Node refused it (RST_STREAM/GOAWAY or 400), or delivered
 * it without the bad field, or delivered it and the validator refuses what was delivered.
 * Nothing a row sends may reach a request handler unrefused with the bad field in it.
 */
type Fields = ReadonlyArray<readonly [string, string]>;
const GET: Fields = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '/x']];
const POST: Fields = [[':method', 'POST'], [':scheme', 'https'], [':authority', 'a.test'], [':path', '/x']];

/** [name, fields, the field that must not get through unrefused] */
const h2Rows: ReadonlyArray<readonly [string, Fields, string]> = [
  ['CR in a value', [...GET, ['x-a', 'b\rc']], 'x-a'],
  ['LF in a value', [...GET, ['x-a', 'b\nhost: evil.test']], 'x-a'],
  ['NUL in a value', [...GET, ['x-a', 'b\u0000c']], 'x-a'],
  ['leading space in a value', [...GET, ['x-a', ' b']], 'x-a'],
  ['trailing tab in a value', [...GET, ['x-a', 'b\t']], 'x-a'],
  ['colon in a name', [...GET, ['x:a', 'b']], 'x:a'],
  ['space in a name', [...GET, ['x a', 'b']], 'x a'],
  ['CR in a name', [...GET, ['x\ra', 'b']], 'x\ra'],
  ['uppercase name', [...GET, ['X-A', 'b']], 'X-A'],
  ['pseudo-header after a regular one', [[':method', 'GET'], [':scheme', 'https'], ['x-a', 'b'], [':authority', 'a.test'], [':path', '/x']], ':authority'],
  ['repeated :path', [...GET, [':path', '/y']], ':path'],
  ['repeated :authority', [...GET.slice(0, 3), [':authority', 'evil.test'], GET[3]!], ':authority'],
  ['unknown pseudo-header', [...GET, [':foo', '1']], ':foo'],
  ['response pseudo-header', [...GET, [':status', '200']], ':status'],
  ['Host disagreeing with :authority', [...GET, ['host', 'evil.test']], 'host'],
  ['two Host fields', [...GET, ['host', 'a.test'], ['host', 'evil.test']], 'host'],
  ['userinfo in :authority', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'user@a.test'], [':path', '/x']], ':authority'],
  ['transfer-encoding', [...POST, ['transfer-encoding', 'chunked']], 'transfer-encoding'],
  ['connection', [...GET, ['connection', 'close']], 'connection'],
  ['upgrade', [...GET, ['upgrade', 'h2c']], 'upgrade'],
  ['http2-settings', [...GET, ['http2-settings', 'AAMAAABk']], 'http2-settings'],
  ['te: gzip', [...GET, ['te', 'gzip']], 'te'],
  ['two content-length fields', [...POST, ['content-length', '1'], ['content-length', '2']], 'content-length'],
  ['content-length list', [...POST, ['content-length', '1, 2']], 'content-length'],
  ['signed content-length', [...POST, ['content-length', '+1']], 'content-length'],
];

const h2Server = async (t: TestContext): Promise<{ port: number; delivered: string[][] }> => {
  const delivered: string[][] = [];
  const server = http2.createServer();
  server.on('stream', (stream: http2.ServerHttp2Stream, _headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    delivered.push([...rawHeaders]);
    stream.respond({ ':status': 200 });
    stream.end();
  });
  server.on('session', (session) => session.on('error', () => {}));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, delivered };
};

const carries = (rawHeaders: readonly string[], fields: Fields, bad: string): boolean => {
  const sent = fields.filter(([name]) => name === bad).map(([, value]) => value);
  const got: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i] === bad) got.push(rawHeaders[i + 1] ?? '');
  // The bad field got through when every value sent for it arrived (a repeat or a disagreement needs them all).
  return sent.length > 0 && sent.every((value) => got.includes(value)) && got.length >= sent.length;
};

test('HTTP/2: every bad head is refused by Node, dropped by Node, or refused by validateRequestHead', async (t) => {
  const { port, delivered } = await h2Server(t);
  const byValidator: string[] = [];
  for (const [name, fields, bad] of h2Rows) {
    await t.test(name, async () => {
      const before = delivered.length;
      const answer = await sendH2(port, h2Request(fields));
      const got = delivered.slice(before);
      if (got.length === 0) {
        assert.ok(answer.frames.some((f) => f.startsWith('RST_STREAM') || f.startsWith('GOAWAY')), `${name}: ${answer.frames.join(' ')}`);
        return;
      }
      const raw = got[0]!;
      if (!carries(raw, fields, bad)) return; // nghttp2 dropped the field: it can't be forwarded
      const check = validateRequestHead({ httpVersion: '2.0', rawHeaders: raw });
      assert.equal(check.ok, false, `${name}: Node passed ${JSON.stringify(raw)} and the validator accepted it`);
      byValidator.push(name);
    });
  }
  // The rows Node passes on with the field intact are the validator's job; they exist today.
  assert.ok(byValidator.includes('Host disagreeing with :authority'), byValidator.join(', '));
  assert.ok(byValidator.includes('http2-settings'), byValidator.join(', '));
});

const h1Rows: ReadonlyArray<readonly [string, string, string]> = [
  ['CR in a value', 'X-A: b\rc\r\n', 'x-a'],
  ['NUL in a value', 'X-A: b\u0000c\r\n', 'x-a'],
  ['obs-fold continuation line', 'X-A: b\r\n c\r\n', 'x-a'],
  ['space before the colon', 'X-A : b\r\n', 'x-a'],
  ['two Host fields', 'Host: evil.test\r\n', 'host'],
  ['two different Content-Length fields', 'Content-Length: 1\r\nContent-Length: 2\r\n', 'content-length'],
  ['a Content-Length list', 'Content-Length: 1, 2\r\n', 'content-length'],
  ['Transfer-Encoding with Content-Length', 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', 'transfer-encoding'],
  ['Transfer-Encoding gzip, chunked', 'Transfer-Encoding: gzip, chunked\r\n', 'transfer-encoding'],
  ['Transfer-Encoding identity', 'Transfer-Encoding: identity\r\n', 'transfer-encoding'],
];

test('HTTP/1.1: every bad head is refused by Node or by validateRequestHead', async (t) => {
  const delivered: string[][] = [];
  const server = http.createServer((req, res) => {
    delivered.push([...req.rawHeaders]);
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  const byValidator: string[] = [];
  for (const [name, extra, bad] of h1Rows) {
    await t.test(name, async () => {
      const before = delivered.length;
      const reply = await sendRaw(port, `POST /x HTTP/1.1\r\nHost: a.test\r\n${extra}Connection: close\r\n\r\n0\r\n\r\n`, { idleMs: 200 });
      const got = delivered.slice(before);
      if (got.length === 0) {
        assert.equal(statusOf(reply), 400, `${name}: ${reply.slice(0, 100)}`);
        return;
      }
      const raw = got[0]!;
      const present = raw.some((field, i) => i % 2 === 0 && field.toLowerCase() === bad);
      if (!present) return;
      const check = validateRequestHead({ httpVersion: '1.1', rawHeaders: raw });
      assert.equal(check.ok, false, `${name}: Node passed ${JSON.stringify(raw)} and the validator accepted it`);
      byValidator.push(name);
    });
  }
  assert.ok(byValidator.includes('two Host fields'), byValidator.join(', '));
  assert.ok(byValidator.includes('Transfer-Encoding gzip, chunked'), byValidator.join(', '));
});
