import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import {
  createOriginalDestinationSource, formatOriginalDestination, parseSockaddr, type OriginalDstCall,
} from '../../../src/net/original-destination.js';
import type { Logger } from '../../../src/logging/logger.js';

const hex = (text: string): Uint8Array => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// What getsockopt(SO_ORIGINAL_DST) fills in on x86-64: sa_family little-endian, port and address big-endian.
const cases: ReadonlyArray<readonly [string, Uint8Array, 'LE' | 'BE', string | undefined]> = [
  ['reads an IPv4 sockaddr_in as the kernel fills it', hex('0200 01bb 7f000002 0000000000000000'), 'LE', '127.0.0.2:443'],
  ['reads a high port in network byte order', hex('0200 fde8 0ac80302 0000000000000000'), 'LE', '10.200.3.2:65000'],
  ['accepts a sockaddr_in without its sin_zero padding', hex('0200 0050 0a000001'), 'LE', '10.0.0.1:80'],
  ['reads sa_family in big-endian order when told so', hex('0002 01bb 0a000001 0000000000000000'), 'BE', '10.0.0.1:443'],
  ['reads an IPv6 sockaddr_in6 and compresses the address',
    hex('0a00 01bb 00000000 fd000200 00100000 00000000 00000002 00000000'), 'LE', '[fd00:200:10::2]:443'],
  ['unwraps an IPv4-mapped IPv6 address to IPv4',
    hex('0a00 0050 00000000 00000000 00000000 0000ffff c0a80001 00000000'), 'LE', '192.168.0.1:80'],
  ['accepts a sockaddr_in6 without sin6_scope_id', hex('0a00 01bb 00000000 00000000 00000000 00000000 00000001'), 'LE', '[::1]:443'],
  ['refuses an unknown address family', hex('0100 01bb 7f000001 0000000000000000'), 'LE', undefined],
  ['refuses a family read in the wrong byte order', hex('0200 01bb 7f000001 0000000000000000'), 'BE', undefined],
  ['refuses a truncated sockaddr_in', hex('0200 01bb 7f00'), 'LE', undefined],
  ['refuses a truncated sockaddr_in6', hex('0a00 01bb 00000000 fd00'), 'LE', undefined],
  ['refuses port 0', hex('0200 0000 7f000001 0000000000000000'), 'LE', undefined],
  ['refuses an empty buffer', new Uint8Array(0), 'LE', undefined],
];

for (const [name, bytes, endianness, expected] of cases) {
  test(`parseSockaddr ${name}`, () => {
    const parsed = parseSockaddr(bytes, endianness);
    assert.equal(parsed === undefined ? undefined : formatOriginalDestination(parsed), expected);
  });
}

const memoryLogger = (): Logger & { lines: Array<{ level: string; message?: string }> } => {
  const lines: Array<{ level: string; message?: string }> = [];
  const at = (level: string) => (_object: Record<string, unknown>, message?: string): void => { lines.push({ level, message }); };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
};

const fakeSocket = (fields: { fd?: number; remoteAddress?: string; localAddress?: string; localPort?: number }): net.Socket =>
  ({ _handle: fields.fd === undefined ? undefined : { fd: fields.fd }, remoteAddress: fields.remoteAddress, localAddress: fields.localAddress, localPort: fields.localPort }) as unknown as net.Socket;

const sockaddrIn = (address: string, port: number): Uint8Array => {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt16LE(2, 0);
  bytes.writeUInt16BE(port, 2);
  address.split('.').forEach((part, i) => { bytes[4 + i] = Number(part); });
  return bytes;
};

test('the source asks at the IPv4 level for IPv4 and IPv4-mapped clients, at the IPv6 level for IPv6 ones', () => {
  const asked: Array<[number, 4 | 6]> = [];
  const call: OriginalDstCall = (fd, family) => {
    asked.push([fd, family]);
    return sockaddrIn('10.200.3.2', 443);
  };
  const source = createOriginalDestinationSource({ logger: memoryLogger(), call });
  const v4 = source.lookup(fakeSocket({ fd: 7, remoteAddress: '10.200.2.2', localAddress: '10.200.2.1', localPort: 3130 }));
  assert.deepEqual(v4, { address: '10.200.3.2', port: 443, family: 4 });
  source.lookup(fakeSocket({ fd: 8, remoteAddress: '::ffff:10.200.2.2', localAddress: '::ffff:10.200.2.1', localPort: 3130 }));
  source.lookup(fakeSocket({ fd: 9, remoteAddress: 'fd00::2', localAddress: 'fd00::1', localPort: 3130 }));
  assert.deepEqual(asked, [[7, 4], [8, 4], [9, 6]]);
});

test('a connection made straight to the listener (no REDIRECT) has no original destination', () => {
  const source = createOriginalDestinationSource({ logger: memoryLogger(), call: () => sockaddrIn('10.0.0.1', 3130) });
  assert.equal(source.lookup(fakeSocket({ fd: 7, remoteAddress: '10.0.0.2', localAddress: '::ffff:10.0.0.1', localPort: 3130 })), undefined);
});

test('a getsockopt error (no conntrack entry) or a socket without a descriptor gives undefined, never a throw', () => {
  const source = createOriginalDestinationSource({
    logger: memoryLogger(),
    call: () => { throw Object.assign(new Error('getsockopt(SO_ORIGINAL_DST) failed'), { code: 'ENOENT' }); },
  });
  assert.equal(source.lookup(fakeSocket({ fd: 7, remoteAddress: '10.0.0.2' })), undefined);
  const working = createOriginalDestinationSource({ logger: memoryLogger(), call: () => sockaddrIn('10.0.0.9', 80) });
  assert.equal(working.lookup(fakeSocket({ remoteAddress: '10.0.0.2' })), undefined);
});

test('a missing addon is reported once, clearly, and lookups return undefined', () => {
  const logger = memoryLogger();
  const source = createOriginalDestinationSource({ logger, addonFile: '/nonexistent/original_dst.node' });
  const status = source.status();
  assert.equal(status.available, false);
  if (!status.available) assert.match(status.problem, /not built|failed to load|Linux only/);
  assert.equal(source.lookup(fakeSocket({ fd: 7, remoteAddress: '10.0.0.2' })), undefined);
  source.status();
  const warnings = logger.lines.filter((line) => line.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]?.message ?? '', /original destinations unavailable/);
});
