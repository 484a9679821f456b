import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAuthority, formatHostHeader, parseAbsoluteTarget, parseAuthority, type Destination } from '../../../src/flow/destination.js';

const dest = (host: string, port: number, family?: 4 | 6): Destination => ({
  host: family === undefined ? { kind: 'name', host } : { kind: 'ip', host, family },
  port,
});

const authorities: ReadonlyArray<readonly [string, string, number | undefined, Destination]> = [
  ['parses a name and a port', 'www.example.com:443', undefined, dest('www.example.com', 443)],
  ['normalizes the name in an authority', 'WWW.Example.com.:8443', undefined, dest('www.example.com', 8443)],
  ['parses the highest port', 'example.com:65535', undefined, dest('example.com', 65535)],
  ['uses the default port when none is given', 'example.com', 80, dest('example.com', 80)],
  ['parses a bracketed IPv6 with a port', '[::1]:8080', undefined, dest('::1', 8080, 6)],
  ['uses the default port for a bracketed IPv6', '[2001:db8::1]', 443, dest('2001:db8::1', 443, 6)],
  ['unwraps an IPv4-mapped IPv6 authority', '[::ffff:10.0.0.1]:443', undefined, dest('10.0.0.1', 443, 4)],
  ['canonicalizes a decimal IPv4 authority', '2130706433:80', undefined, dest('127.0.0.1', 80, 4)],
  ['keeps a punycode authority', 'xn--bcher-kva.de:443', undefined, dest('xn--bcher-kva.de', 443)],
];

for (const [name, input, defaultPort, expected] of authorities) {
  test(`parseAuthority ${name}: ${input}`, () => {
    assert.deepEqual(parseAuthority(input, defaultPort), { ok: true, value: expected });
  });
}

// Refused authority notations (ports, hosts, credentials) are all in authority-notation.test.ts.

const targets: ReadonlyArray<readonly [string, string, Destination, 'http' | 'https', string]> = [
  ['parses an http URL with the default port', 'http://example.com/a/b?c=d', dest('example.com', 80), 'http', '/a/b?c=d'],
  ['parses an https URL with the default port', 'https://example.com/', dest('example.com', 443), 'https', '/'],
  ['parses an explicit port', 'https://example.com:8443/x', dest('example.com', 8443), 'https', '/x'],
  ['lowercases the scheme and host', 'HTTP://Example.COM/Path', dest('example.com', 80), 'http', '/Path'],
  ['gives an empty path as /', 'http://example.com', dest('example.com', 80), 'http', '/'],
  ['puts a slash before a bare query', 'http://example.com?q=1', dest('example.com', 80), 'http', '/?q=1'],
  ['keeps the path byte for byte', 'http://example.com/a/../%2e%2E//b', dest('example.com', 80), 'http', '/a/../%2e%2E//b'],
  ['parses an IPv6 URL', 'http://[::1]:8080/', dest('::1', 8080, 6), 'http', '/'],
  ['parses an IPv4 URL in hex', 'http://0x7f.1/', dest('127.0.0.1', 80, 4), 'http', '/'],
];

for (const [name, input, destination, scheme, pathAndQuery] of targets) {
  test(`parseAbsoluteTarget ${name}: ${input}`, () => {
    assert.deepEqual(parseAbsoluteTarget(input), { ok: true, value: { destination, scheme, pathAndQuery } });
  });
}

const badTargets: ReadonlyArray<readonly [string, string, string]> = [
  ['refuses userinfo', 'http://user@example.com/', 'userinfo-in-url'],
  ['refuses userinfo with a password', 'https://user:pass@example.com/', 'userinfo-in-url'],
  ['refuses a backslash trick that hides userinfo', 'http://evil.test\\@example.com/', 'userinfo-in-url'],
  ['refuses an ftp URL', 'ftp://example.com/', 'invalid-destination'],
  ['refuses a javascript URL', 'javascript://example.com/', 'invalid-destination'],
  ['refuses a ws URL', 'ws://example.com/', 'invalid-destination'],
  ['refuses a URL without a host', 'http:///path', 'invalid-destination'],
  ['refuses a URL with one slash', 'http:/example.com/', 'invalid-destination'],
  ['refuses an origin-form target', '/path', 'invalid-destination'],
  ['refuses a fragment', 'http://example.com/#x', 'invalid-destination'],
];

for (const [name, input, reason] of badTargets) {
  test(`parseAbsoluteTarget ${name}: ${input}`, () => {
    const result = parseAbsoluteTarget(input);
    assert.equal(result.ok, false);
    assert.equal((result as { reason: string }).reason, reason);
  });
}

test('formatAuthority brackets IPv6 and keeps the port', () => {
  assert.equal(formatAuthority(dest('::1', 443, 6)), '[::1]:443');
  assert.equal(formatAuthority(dest('example.com', 80)), 'example.com:80');
});

test('formatHostHeader omits the default port only', () => {
  assert.equal(formatHostHeader(dest('example.com', 443), 443), 'example.com');
  assert.equal(formatHostHeader(dest('example.com', 8443), 443), 'example.com:8443');
  assert.equal(formatHostHeader(dest('::1', 80, 6), 80), '[::1]');
});
