import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHost, type CanonicalHost } from '../../../src/flow/host.js';

const name = (host: string): CanonicalHost => ({ kind: 'name', host });
const v4 = (host: string): CanonicalHost => ({ kind: 'ip', host, family: 4 });
const v6 = (host: string): CanonicalHost => ({ kind: 'ip', host, family: 6 });

const parses: ReadonlyArray<readonly [string, string, CanonicalHost]> = [
  ['keeps a lowercase name', 'www.example.com', name('www.example.com')],
  ['lowercases a mixed-case name', 'WWW.Example.COM', name('www.example.com')],
  ['drops a trailing dot', 'www.example.com.', name('www.example.com')],
  ['drops a trailing dot and lowercases together', 'WWW.EXAMPLE.COM.', name('www.example.com')],
  ['keeps a single-label name', 'localhost', name('localhost')],
  ['keeps underscores and hyphens', 'my_host-1.example.com', name('my_host-1.example.com')],
  ['converts an IDN to punycode', 'bücher.de', name('xn--bcher-kva.de')],
  ['converts an uppercase IDN to lowercase punycode', 'BÜCHER.DE', name('xn--bcher-kva.de')],
  ['keeps a punycode name as it is', 'xn--bcher-kva.de', name('xn--bcher-kva.de')],
  ['lowercases a punycode name', 'XN--BCHER-KVA.DE', name('xn--bcher-kva.de')],
  ['maps full-width letters the way browsers do', 'ｅxample.com', name('example.com')],
  ['maps an ideographic full stop to a dot', 'example。com', name('example.com')],
  ['keeps a name that only looks like a number with a letter', '1e1', name('1e1')],
  ['keeps a dotted-quad IPv4', '127.0.0.1', v4('127.0.0.1')],
  ['reads a single decimal number as IPv4', '2130706433', v4('127.0.0.1')],
  ['reads octal octets as IPv4', '0177.0.0.1', v4('127.0.0.1')],
  ['reads hex octets as IPv4', '0x7f.0.0.1', v4('127.0.0.1')],
  ['reads an uppercase hex number as IPv4', '0X7F000001', v4('127.0.0.1')],
  ['reads a short two-part form as IPv4', '127.1', v4('127.0.0.1')],
  ['reads a short three-part form as IPv4', '127.0.1', v4('127.0.0.1')],
  ['reads a mixed-notation IPv4', '0x7f.0.0.01', v4('127.0.0.1')],
  ['reads a lone zero as 0.0.0.0', '0', v4('0.0.0.0')],
  ['drops a trailing dot after an IPv4', '127.0.0.1.', v4('127.0.0.1')],
  ['keeps a bracketed IPv6 without brackets', '[::1]', v6('::1')],
  ['keeps an unbracketed IPv6', '::1', v6('::1')],
  ['compresses and lowercases an IPv6', '[2001:DB8:0:0:0:0:0:1]', v6('2001:db8::1')],
  ['unwraps an IPv4-mapped IPv6 in dotted form', '[::ffff:127.0.0.1]', v4('127.0.0.1')],
  ['unwraps an IPv4-mapped IPv6 in hex form', '[::ffff:7f00:1]', v4('127.0.0.1')],
  ['unwraps an uppercase IPv4-mapped IPv6', '[::FFFF:A9FE:A9FE]', v4('169.254.169.254')],
  ['keeps an IPv4-compatible IPv6 as the IPv6 address it is', '[::127.0.0.1]', v6('::7f00:1')],
  ['keeps the IPv6 unspecified address', '[::]', v6('::')],
];

for (const [title, input, expected] of parses) {
  test(`parseHost ${title}: ${JSON.stringify(input)}`, () => {
    assert.deepEqual(parseHost(input), { ok: true, value: expected });
  });
}

const refuses: ReadonlyArray<readonly [string, string]> = [
  ['refuses an empty host', ''],
  ['refuses a lone dot', '.'],
  ['refuses two trailing dots', 'example.com..'],
  ['refuses an empty label', 'a..example.com'],
  ['refuses a leading dot', '.example.com'],
  ['refuses a space', 'exa mple.com'],
  ['refuses a tab', 'example.com\t'],
  ['refuses a NUL', 'example.com\u0000.evil.test'],
  ['refuses a slash', 'example.com/evil'],
  ['refuses a backslash', 'example.com\\evil.test'],
  ['refuses an at sign', 'user@example.com'],
  ['refuses a question mark', 'example.com?x'],
  ['refuses a hash', 'example.com#x'],
  ['refuses a percent-encoded name', '%65xample.com'],
  ['refuses other punctuation', 'exam!ple.com'],
  ['refuses a label longer than 63 characters', `${'a'.repeat(64)}.com`],
  ['refuses a name longer than 253 characters', `${'a.'.repeat(127)}com`],
  ['refuses invalid punycode', 'xn--a.com'],
  ['refuses an IPv4 octet above 255', '256.0.0.1'],
  ['refuses an IPv4 with five parts', '1.2.3.4.5'],
  ['refuses a leading-zero octet with a non-octal digit', '09.1.1.1'],
  ['refuses a name whose last label is a number', 'example.123'],
  ['refuses a name whose last label is a hex number', 'example.0x10'],
  ['refuses an invalid IPv6', '[1:2:3:4:5:6:7:8:9]'],
  ['refuses an IPv6 with a zone id', '[fe80::1%25eth0]'],
  ['refuses an unbracketed IPv6 with a zone id', 'fe80::1%eth0'],
  ['refuses an IPv6 with octal octets in its IPv4 part', '[::ffff:0177.0.0.1]'],
  ['refuses an IPv6 with hex octets in its IPv4 part', '[::ffff:0x7f.0.0.1]'],
  ['refuses a bracketed IPv4', '[127.0.0.1]'],
  ['refuses a bracketed name', '[example.com]'],
  ['refuses an unterminated bracket', '[::1'],
  ['refuses text after an IPv6 bracket', '[::1]x'],
  ['refuses a host longer than 1024 characters', 'a'.repeat(1025)],
];

for (const [title, input] of refuses) {
  test(`parseHost ${title}: ${JSON.stringify(input)}`, () => {
    assert.equal(parseHost(input).ok, false);
  });
}
