import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAddressGuard } from '../../../src/policy/address-guard.js';

const blocked: ReadonlyArray<readonly [string, string, string]> = [
  ['blocks IPv4 loopback', '127.0.0.1', 'loopback'],
  ['blocks the far end of IPv4 loopback', '127.255.255.254', 'loopback'],
  ['blocks 10/8', '10.1.2.3', 'private'],
  ['blocks 172.16/12', '172.31.255.255', 'private'],
  ['blocks 192.168/16', '192.168.0.1', 'private'],
  ['blocks the cloud metadata address', '169.254.169.254', 'linkLocal'],
  ['blocks IPv4 link-local', '169.254.0.1', 'linkLocal'],
  ['blocks 0.0.0.0', '0.0.0.0', 'unspecified'],
  ['blocks the rest of 0/8', '0.1.2.3', 'unspecified'],
  ['blocks IPv4 multicast', '224.0.0.1', 'multicast'],
  ['blocks the limited broadcast address', '255.255.255.255', 'broadcast'],
  ['blocks carrier-grade NAT', '100.64.0.1', 'carrierGradeNat'],
  ['blocks the benchmarking range', '198.18.0.1', 'reserved'],
  ['blocks TEST-NET-1', '192.0.2.1', 'reserved'],
  ['blocks TEST-NET-2', '198.51.100.1', 'reserved'],
  ['blocks TEST-NET-3', '203.0.113.1', 'reserved'],
  ['blocks 240/4', '240.0.0.1', 'reserved'],
  ['blocks IPv6 loopback', '::1', 'loopback'],
  ['blocks the IPv6 unspecified address', '::', 'unspecified'],
  ['blocks IPv6 link-local', 'fe80::1', 'linkLocal'],
  ['blocks IPv6 unique local', 'fd00::1', 'uniqueLocal'],
  ['blocks IPv6 unique local in fc00::/8', 'fc00::1', 'uniqueLocal'],
  ['blocks IPv6 multicast', 'ff02::1', 'multicast'],
  ['blocks IPv4-mapped loopback after unwrapping it', '::ffff:127.0.0.1', 'loopback'],
  ['blocks IPv4-mapped loopback written in hex', '::ffff:7f00:1', 'loopback'],
  ['blocks the IPv4-mapped metadata address', '::ffff:169.254.169.254', 'linkLocal'],
  ['blocks IPv4-compatible IPv6', '::127.0.0.1', 'ipv4Compatible'],
  ['blocks NAT64 addresses', '64:ff9b::7f00:1', 'rfc6052'],
  ['blocks NAT64 addresses of public hosts too', '64:ff9b::808:808', 'rfc6052'],
  ['blocks 6to4 addresses', '2002:7f00:1::1', '6to4'],
  ['blocks Teredo addresses', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
  ['blocks IPv6 documentation addresses', '2001:db8::1', 'reserved'],
  ['blocks IPv6 outside global unicast space', '4000::1', 'reserved'],
  ['blocks deprecated site-local IPv6', 'fec0::1', 'deprecatedSiteLocal'],
  ['refuses a string that is not an IP', 'localhost', 'invalid'],
];

for (const [name, ip, range] of blocked) {
  test(`address guard ${name}: ${ip} is ${range}`, () => {
    assert.deepEqual(createAddressGuard([]).check(ip), { allowed: false, range });
  });
}

const passes: ReadonlyArray<readonly [string, string]> = [
  ['allows a public IPv4 address', '8.8.8.8'],
  ['allows a public address just outside 172.16/12', '172.32.0.1'],
  ['allows a public address just outside carrier-grade NAT', '100.128.0.1'],
  ['allows an IPv4-mapped public address', '::ffff:8.8.8.8'],
  ['allows a public IPv6 address', '2607:f8b0:4004:800::200e'],
];

for (const [name, ip] of passes) {
  test(`address guard ${name}: ${ip}`, () => {
    assert.deepEqual(createAddressGuard([]).check(ip), { allowed: true });
  });
}

const allowRanges: ReadonlyArray<readonly [string, readonly string[], string, boolean]> = [
  ['allows loopback when 127.0.0.0/8 is listed', ['127.0.0.0/8'], '127.0.0.1', true],
  ['allows the IPv4-mapped form of a listed IPv4 range', ['127.0.0.0/8'], '::ffff:127.0.0.1', true],
  ['allows a single listed IP', ['10.0.0.5'], '10.0.0.5', true],
  ['still blocks the neighbour of a single listed IP', ['10.0.0.5'], '10.0.0.6', false],
  ['still blocks a private range that is not listed', ['127.0.0.0/8'], '10.0.0.1', false],
  ['allows IPv6 loopback when ::1 is listed', ['::1'], '::1', true],
  ['does not let an IPv4 range allow IPv6 loopback', ['127.0.0.0/8'], '::1', false],
  ['allows an IPv4 address through a range written in IPv4-mapped form', ['::ffff:10.0.0.0/104'], '10.1.2.3', true],
  ['allows a listed unique-local IPv6 range', ['fd00::/8'], 'fd12::1', true],
];

for (const [name, ranges, ip, allowed] of allowRanges) {
  test(`address guard ${name}: ${ip} with allow_ranges ${ranges.join(',')}`, () => {
    assert.equal(createAddressGuard(ranges).check(ip).allowed, allowed);
  });
}

test('address guard names the range of a blocked address for the log', () => {
  assert.deepEqual(createAddressGuard(['127.0.0.0/8']).check('169.254.169.254'), { allowed: false, range: 'linkLocal' });
});

test('address guard throws on an allow_ranges entry that is not an IP or CIDR', () => {
  assert.throws(() => createAddressGuard(['not-an-ip']));
});
