import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parentConnectHead, parseParentProxyUrl } from '../../../src/net/parent-proxy-dialer.js';

const basic = (userPass: string): string => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;

const parses: ReadonlyArray<readonly [string, string, string, string | undefined]> = [
  ['a parent without credentials', 'http://parent.test:3128', 'http://parent.test:3128', undefined],
  ['a parent on the default port', 'http://parent.test', 'http://parent.test:80', undefined],
  ['a parent with a user and password', 'http://gw:s3cret@parent.test:3128', 'http://parent.test:3128', basic('gw:s3cret')],
  ['percent-encoded reserved characters in user and password', 'http://g%40w:p%3Ass%2Fw%25@parent.test:3128', 'http://parent.test:3128', basic('g@w:p:ss/w%')],
  ['an empty password', 'http://gw:@parent.test:3128', 'http://parent.test:3128', basic('gw:')],
  ['a user without a password', 'http://gw@parent.test:3128', 'http://parent.test:3128', basic('gw:')],
  ['UTF-8 in the password', 'http://gw:p%C3%A4ss@parent.test:3128', 'http://parent.test:3128', basic('gw:päss')],
  ['an IPv6 parent', 'http://gw:pw@[::1]:3128', 'http://[::1]:3128', basic('gw:pw')],
];

for (const [name, url, label, authorization] of parses) {
  test(`parseParentProxyUrl reads ${name}`, () => {
    const result = parseParentProxyUrl(url);
    assert.ok(result.ok, JSON.stringify(result));
    if (!result.ok) return;
    assert.equal(result.value.label, label);
    assert.equal(result.value.authorization, authorization);
    assert.doesNotMatch(result.value.label, /@|s3cret|pw/);
  });
}

const refuses: ReadonlyArray<readonly [string, string, RegExp]> = [
  ['an https parent', 'https://gw:pw@parent.test:3128', /only http/],
  ['a parent with a path', 'http://parent.test:3128/x', /without a path/],
  ['a port out of range', 'http://parent.test:70000', /not a URL/],
  ['an empty user with a password', 'http://:pw@parent.test:3128', /user name must be non-empty/],
  ['a user name holding a colon once decoded', 'http://g%3Aw:pw@parent.test:3128', /no ":"/],
  ['malformed percent-encoding in the password', 'http://gw:%E0%A4%A@parent.test:3128', /percent-encoding/],
  ['a control character in the password', 'http://gw:a%0Db@parent.test:3128', /control characters/],
  ['not a URL', 'parent.test:3128', /not a URL|only http/],
];

for (const [name, url, message] of refuses) {
  test(`parseParentProxyUrl refuses ${name}, without echoing the credentials`, () => {
    const result = parseParentProxyUrl(url);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.match(result.error, message);
    assert.doesNotMatch(result.error, /pw@|:pw|%0D|%E0/);
  });
}

test('parentConnectHead sends Proxy-Authorization only when the parent has credentials', () => {
  const destination = { host: { kind: 'name', host: 'allowed.test' } as const, port: 443 };
  const plain = parseParentProxyUrl('http://parent.test:3128');
  const authed = parseParentProxyUrl('http://gw:s3cret@parent.test:3128');
  assert.ok(plain.ok && authed.ok);
  if (!plain.ok || !authed.ok) return;
  assert.equal(parentConnectHead(plain.value, destination), 'CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n');
  assert.equal(parentConnectHead(authed.value, destination),
    `CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\nProxy-Authorization: ${basic('gw:s3cret')}\r\n\r\n`);
});
