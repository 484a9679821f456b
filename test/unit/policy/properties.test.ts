import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseHost, parseHostThoroughly } from '../../../src/flow/host.js';
import { normalizePath, pathMatchesPrefix } from '../../../src/policy/path-normalizer.js';
import { compilePolicy } from '../../../src/policy/policy-engine.js';

const RUNS = { numRuns: 500 };

/** Pieces that make up the path tricks worth mixing: dots, escapes, slashes, parameters, bad UTF-8. */
const PATH_TOKENS = [
  '/', '/', '/', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '\\', ';', '%', '%4', '%g1', '%c0%ae', '%e0%80%ae',
  '%41', '%7e', '%25', '%3b', '%00', '%7f', '%e2%82%ac', '%c3', '?', '#', ' ', 'é', 'a', 'x', 'v1', 'b', 'storage',
  'allowed-bkt', '-evil', 'allowed-bkt-evil',
];
const trickyPath = fc
  .tuple(fc.constantFrom('', '/', '/storage/v1/b/allowed-bkt', '/storage/v1/b/allowed-bkt/'), fc.array(fc.constantFrom(...PATH_TOKENS), { maxLength: 12 }))
  .map(([start, tokens]) => start + tokens.join(''));
const anyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }));
const anyPath = fc.oneof(trickyPath, anyString, anyString.map((s) => `/${s}`));

/** A path segment without "/" that normalizePath accepts, e.g. for building prefixes. */
const segment = fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/).filter((s) => !/^\.+$/.test(s));
const normalizedPrefix = fc.array(segment, { minLength: 1, maxLength: 4 }).map((segments) => `/${segments.join('/')}`);

test('parseHost never throws on arbitrary strings', () => {
  fc.assert(fc.property(anyString, (text) => { parseHost(text); }), RUNS);
});

test('parseHost never throws on host-like strings', () => {
  const hostish = fc.array(fc.constantFrom('a', 'x', '0', '1', '7f', '0x', '255', '.', '..', ':', '::', '[', ']', '%', 'ffff', '-', '_', 'ü', 'xn--'), { maxLength: 16 })
    .map((parts) => parts.join(''));
  fc.assert(fc.property(hostish, (text) => { parseHost(text); }), RUNS);
});

test('parseHost is idempotent on the hosts it accepts', () => {
  fc.assert(fc.property(anyString, (text) => {
    const first = parseHost(text);
    if (!first.ok) return;
    const again = parseHost(first.value.kind === 'ip' && first.value.family === 6 ? `[${first.value.host}]` : first.value.host);
    assert.deepEqual(again, first);
  }), RUNS);
});

test('parseHost\'s fast path agrees with the WHATWG parser on every input', () => {
  // Biased to what the fast path takes (lowercase labels, dotted quads) and its edges.
  const pieces = ['a', 'z', 'x', 'e', '0', '1', '9', '00', '01', '08', '255', '256', '1000', '0x', '0xff', '.', '..', '-', '_',
    'xn--', 'xn--bcher-kva', 'A', 'ü', ':', '%', ' ', 'a'.repeat(63), 'b'.repeat(64)];
  const hostish = fc.array(fc.constantFrom(...pieces), { maxLength: 12 }).map((parts) => parts.join(''));
  const quad = fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('0x7f', '010', '')), { minLength: 1, maxLength: 5 })
    .map((parts) => parts.join('.'));
  fc.assert(fc.property(fc.oneof(hostish, quad, anyString), (text) => {
    assert.deepEqual(parseHost(text), parseHostThoroughly(text));
  }), { numRuns: 5000 });
  for (const text of ['example.com', '127.0.0.1', '0.0.0.0', '255.255.255.255', '1.2.3', 'a.0x1', 'a.1e5', 'x_y.z-', `${'a'.repeat(63)}.com`, `${'a'.repeat(64)}.com`, `${'a.'.repeat(126)}a`, `${'a.'.repeat(127)}a`, 'a.xn--bcher-kva', 'xn--a']) {
    assert.deepEqual(parseHost(text), parseHostThoroughly(text), text);
  }
});

test('normalizePath never throws on arbitrary strings', () => {
  fc.assert(fc.property(anyPath, (text) => { normalizePath(text); }), RUNS);
});

test('normalizePath is idempotent on its ok output', () => {
  fc.assert(fc.property(anyPath, (text) => {
    const first = normalizePath(text);
    if (first.ok) assert.deepEqual(normalizePath(first.path), first);
  }), RUNS);
});

test('normalizePath output never holds a dot-segment in any reading, an empty segment, an encoded backslash or a query', () => {
  fc.assert(fc.property(anyPath, (text) => {
    const result = normalizePath(text);
    if (!result.ok) return;
    const segments = result.path.split('/').slice(1, -1);
    assert.ok(!segments.some((s) => s === '' || s === '.' || s === '..'), result.path);
    // Decoding %2F, %2E and %25 the way a lenient server might still gives no dot-segment.
    let decoded = result.path;
    for (let round = 0; round < 3; round++) decoded = decoded.replace(/%25/gi, '%');
    const pieces = decoded.replace(/%2E/gi, '.').split(/\/|%2F|%5C/i);
    assert.ok(!pieces.some((s) => s === '.' || s === '..'), result.path);
    assert.doesNotMatch(result.path, /%5C|\\|\?|#|%[0-1][0-9A-F]|%7F/i);
    assert.ok(result.path.startsWith('/'));
  }), RUNS);
});

test('pathMatchesPrefix never matches a path that has the prefix followed by a non-slash character', () => {
  const nonSlash = fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }).filter((c) => c !== '/');
  fc.assert(fc.property(normalizedPrefix, nonSlash, fc.string({ maxLength: 12 }), (prefix, next, rest) => {
    assert.equal(pathMatchesPrefix(prefix + next + rest, prefix), false);
  }), RUNS);
});

test('pathMatchesPrefix always matches the prefix itself and any path below it', () => {
  fc.assert(fc.property(normalizedPrefix, fc.array(segment, { maxLength: 3 }), (prefix, below) => {
    assert.ok(pathMatchesPrefix(prefix, prefix));
    assert.ok(pathMatchesPrefix(`${prefix}/${below.join('/')}`, prefix));
  }), RUNS);
});

test('a request allowed by a path rule resolves, by the WHATWG URL parser too, to a path under the rule', () => {
  const policy = compilePolicy([{ name: 'gcs', hosts: ['www.googleapis.com'], paths: ['/storage/v1/b/allowed-bkt'], inspect: false, ech: 'deny' }]);
  const destination = { host: { kind: 'name', host: 'www.googleapis.com' } as const, port: 443 };
  fc.assert(fc.property(trickyPath, (pathAndQuery) => {
    const decision = policy.decideRequest({ destination, clientIp: '10.0.0.1', transport: 'tls', method: 'GET', pathAndQuery });
    if (decision.verdict !== 'allow') return;
    const resolved = new URL(pathAndQuery, 'https://www.googleapis.com').pathname;
    let decoded: string;
    try {
      decoded = decodeURIComponent(resolved);
    } catch {
      decoded = resolved;
    }
    for (const view of [resolved, decoded]) {
      assert.ok(view === '/storage/v1/b/allowed-bkt' || view.startsWith('/storage/v1/b/allowed-bkt/'), `${pathAndQuery} -> ${view}`);
      assert.ok(!view.split(/[/\\]/).some((s) => s === '..' || s === '.'), `${pathAndQuery} -> ${view}`);
    }
  }), RUNS);
});
