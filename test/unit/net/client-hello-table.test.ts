import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createClientHelloReader, isGrease, MAX_CLIENT_HELLO, parseClientHello, type ClientHelloResult } from '../../../src/net/client-hello.js';
import {
  alpnExt, clientHello, clientHelloMessage, echOuterExt, GREASE, records, serverNameExt, supportedGroupsExt, supportedVersionsExt, type Extension,
} from '../../helpers/tls-hello.js';

type Expected =
  | { status: 'ok'; sni?: string; alpn?: string[]; version?: number; ech?: boolean }
  | { status: 'invalid'; error: RegExp }
  | { status: 'need-more' | 'not-tls' };

const ok = (sni: string | undefined, more: Omit<Extract<Expected, { status: 'ok' }>, 'status' | 'sni'> = {}): Expected =>
  (sni === undefined ? { status: 'ok', ...more } : { status: 'ok', sni, ...more });
const bad = (error: RegExp): Expected => ({ status: 'invalid', error });

const sni = serverNameExt('api.example.test');
const h2 = alpnExt('h2', 'http/1.1');
const tls13 = supportedVersionsExt(0x0304, 0x0303);
/** A Chrome-shaped hello: GREASE suite, GREASE extension first and last, GREASE group, version and ALPN. */
const chromeLike = (greaseA: number, greaseB: number, extra: readonly Extension[] = []): Buffer => clientHello([
  [greaseA, new Uint8Array(0)],
  sni,
  supportedGroupsExt(greaseA, 0x001d, 0x0017),
  alpnExt(Uint8Array.from([greaseA >> 8, greaseA & 0xff]), 'h2'),
  supportedVersionsExt(greaseB, 0x0304, 0x0303),
  ...extra,
  [greaseB, Uint8Array.from([0])],
], { cipherSuites: [greaseA, 0x1301, 0x1302] });

/** The message with one byte changed (offset 72: low byte of the cipher suites length; 75 after one suite: compression count). */
const patched = (message: Buffer, at: number, value: number): Buffer => {
  const copy = Buffer.from(message);
  copy[at] = value;
  return copy;
};

const table: ReadonlyArray<readonly [string, Buffer, Expected]> = [
  ['reads SNI, ALPN and the TLS 1.3 version of a plain hello', clientHello([sni, h2, tls13]), ok('api.example.test', { alpn: ['h2', 'http/1.1'], version: 0x0304, ech: false })],
  ['reads a hello without any extension as the legacy version, no SNI', clientHello([], { noExtensions: true, legacyVersion: 0x0301 }), ok(undefined, { version: 0x0301, alpn: [] })],
  ['reads a hello with an empty extension block', clientHello([]), ok(undefined, { version: 0x0303 })],
  ['skips GREASE extensions, suites, groups, versions and ALPN values (Chrome-shaped)', chromeLike(0x0a0a, 0xfafa), ok('api.example.test', { alpn: ['h2'], version: 0x0304, ech: false })],
  ['skips two other GREASE values alike', chromeLike(0x3a3a, 0x8a8a), ok('api.example.test', { alpn: ['h2'], version: 0x0304 })],
  ['keeps the legacy version when supported_versions offers only GREASE', clientHello([sni, supportedVersionsExt(0x7a7a)]), ok('api.example.test', { version: 0x0303 })],
  ['does not take a version above TLS 1.3 that is not GREASE', clientHello([sni, supportedVersionsExt(0x0305, 0x0303)]), ok('api.example.test', { version: 0x0303 })],
  ['keeps an ALPN name that merely looks like GREASE but is three bytes long', clientHello([alpnExt(Uint8Array.from([0x0a, 0x0a, 0x0a]))]), ok(undefined, { alpn: ['\n\n\n'] })],
  ['reports ECH (0xfe0d) and the public name it travels under', clientHello([serverNameExt('public.ech.test'), echOuterExt(), tls13]), ok('public.ech.test', { ech: true })],
  ['reports ECH inside a Chrome-shaped hello with GREASE around it', chromeLike(0x1a1a, 0x2a2a, [echOuterExt(160)]), ok('api.example.test', { ech: true, version: 0x0304 })],
  ['reports ECH even without any SNI', clientHello([echOuterExt()]), ok(undefined, { ech: true })],
  ['reports the older ESNI extension (0xffce) as ECH', clientHello([sni, [0xffce, Buffer.alloc(40, 1)]]), ok('api.example.test', { ech: true })],
  ['does not take an unrelated extension for ECH', clientHello([sni, [0xfe0c, Buffer.alloc(8)]]), ok('api.example.test', { ech: false })],
  ['refuses two server_name extensions', clientHello([serverNameExt('api.example.test'), serverNameExt('evil.test')]), bad(/duplicate extension 0x0000/)],
  ['refuses two server_name extensions naming the same host', clientHello([sni, sni]), bad(/duplicate extension 0x0000/)],
  ['refuses two ALPN extensions', clientHello([sni, h2, alpnExt('h2')]), bad(/duplicate extension 0x0010/)],
  ['refuses two supported_versions extensions', clientHello([sni, tls13, supportedVersionsExt(0x0303)]), bad(/duplicate extension 0x002b/)],
  ['refuses two ECH extensions', clientHello([sni, echOuterExt(), echOuterExt(10)]), bad(/duplicate extension 0xfe0d/)],
  ['refuses the same GREASE extension twice', clientHello([[0x0a0a, new Uint8Array(0)], sni, [0x0a0a, Uint8Array.from([0])]]), bad(/duplicate extension 0x0a0a/)],
  ['refuses an unknown extension twice', clientHello([[0x1234, new Uint8Array(0)], sni, [0x1234, new Uint8Array(0)]]), bad(/duplicate extension 0x1234/)],
  ['refuses two host names in one server_name list', clientHello([serverNameExt('api.example.test', 'evil.test')]), bad(/more than one name/)],
  ['refuses the same host name twice in one list', clientHello([serverNameExt('api.example.test', 'api.example.test')]), bad(/more than one name/)],
  ['refuses a host name followed by a name of another type', clientHello([serverNameExt('api.example.test', [1, 'evil.test'])]), bad(/more than one name/)],
  ['refuses a name of another type before the host name', clientHello([serverNameExt([1, 'evil.test'], 'api.example.test')]), bad(/more than one name/)],
  ['refuses a lone name of unknown type', clientHello([serverNameExt([7, 'evil.test'])]), bad(/unknown type 7/)],
  ['refuses an empty server_name list', clientHello([[0x0000, Uint8Array.from([0, 0])]]), bad(/malformed server_name/)],
  ['refuses a server_name extension with trailing bytes', clientHello([[0x0000, Buffer.concat([serverNameExt('a.test')[1], Buffer.from([0])])]]), bad(/malformed server_name/)],
  ['refuses an empty host name', clientHello([serverNameExt('')]), bad(/printable ASCII/)],
  ['refuses a host name with a space', clientHello([serverNameExt('a b.test')]), bad(/printable ASCII/)],
  ['refuses a host name with a NUL', clientHello([serverNameExt('allowed.test\u0000.evil.test')]), bad(/printable ASCII/)],
  ['refuses a host name with a high byte', clientHello([serverNameExt('b\u00fccher.test')]), bad(/printable ASCII/)],
  ['refuses an empty ALPN protocol name', clientHello([sni, alpnExt('h2', '')]), bad(/empty protocol name/)],
  ['refuses an empty ALPN list', clientHello([sni, [0x0010, Uint8Array.from([0, 0])]]), bad(/malformed ALPN/)],
  ['refuses an ALPN list that overruns its extension', clientHello([sni, [0x0010, Uint8Array.from([0, 9, 2, 0x68, 0x32])]]), bad(/malformed ALPN/)],
  ['refuses supported_versions of odd length', clientHello([sni, [0x002b, Uint8Array.from([3, 3, 4, 3])]]), bad(/supported_versions/)],
  ['refuses an empty supported_versions list', clientHello([sni, [0x002b, Uint8Array.from([0])]]), bad(/supported_versions/)],
  ['refuses bytes after the extension block', clientHello([sni], { trailing: Buffer.from([0, 0]) }), bad(/trailing bytes/)],
  ['refuses an odd cipher suite length', records(patched(clientHelloMessage([sni]), 72, 5)), bad(/cipher suites/)],
  ['refuses a hello without compression methods', records(patched(clientHelloMessage([sni], { cipherSuites: [0x1301] }), 75, 0)), bad(/compression|truncated|malformed/)],
  ['refuses a handshake that is not a ClientHello', records(Buffer.concat([Buffer.from([2]), clientHelloMessage([sni]).subarray(1)])), bad(/not a ClientHello/)],
  ['refuses an alert record in the middle of a split hello',
    Buffer.concat([records(clientHelloMessage([sni]).subarray(0, 20)), Buffer.from([0x15, 3, 3, 0, 2, 2, 40]), records(clientHelloMessage([sni]).subarray(20))]), bad(/non-handshake record/)],
  ['refuses a zero-length handshake record', Buffer.concat([Buffer.from([0x16, 3, 1, 0, 0]), clientHello([sni])]), bad(/record length/)],
  ['refuses a record longer than TLS allows', Buffer.from([0x16, 3, 1, 0x48, 0x01]), bad(/record length/)],
  ['refuses a ClientHello that announces more than 64 KiB', records(Buffer.from([1, 0x01, 0x00, 0x01, 3, 3])), bad(/too large/)],
  ['says not-tls for plain HTTP', Buffer.from('GET / HTTP/1.1\r\n\r\n'), { status: 'not-tls' }],
  ['says not-tls for an SSLv2-style hello', Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01]), { status: 'not-tls' }],
  ['says need-more for an empty buffer', Buffer.alloc(0), { status: 'need-more' }],
];

const check = (result: ClientHelloResult, expected: Expected, input: Buffer): void => {
  assert.equal(result.status, expected.status, JSON.stringify(result));
  if (result.status === 'invalid' && expected.status === 'invalid') assert.match(result.error, expected.error);
  if (result.status === 'ok' && expected.status === 'ok') {
    assert.equal(result.sni, expected.sni);
    if (expected.alpn !== undefined) assert.deepEqual([...result.alpn], expected.alpn);
    if (expected.version !== undefined) assert.equal(result.version, expected.version);
    if (expected.ech !== undefined) assert.equal(result.ech, expected.ech);
    assert.equal(result.length, input.length);
  }
};

for (const [name, input, expected] of table) {
  test(`parseClientHello ${name}`, () => check(parseClientHello(input), expected, input));
}

const splits: ReadonlyArray<readonly [string, readonly number[]]> = [
  ['two records', [100]], ['records of one byte', [1]], ['records of three bytes', [3]],
  ['a 4-byte record then the rest, splitting the handshake header', [4, 16384]], ['a 1-byte record then 2-byte ones', [1, 2]],
  ['records of 7 bytes', [7]], ['a large record then tiny ones', [90, 1]],
];

for (const [name, sizes] of splits) {
  test(`parseClientHello reassembles a hello with ECH and GREASE split into ${name}`, () => {
    const message = clientHelloMessage([[0x0a0a, new Uint8Array(0)], sni, echOuterExt(64), h2, tls13]);
    const input = records(message, sizes);
    check(parseClientHello(input), ok('api.example.test', { alpn: ['h2', 'http/1.1'], version: 0x0304, ech: true }), input);
  });
}

test('a hello followed by more bytes reports the length of its own records only', () => {
  const hello = clientHello([sni]);
  const result = parseClientHello(Buffer.concat([hello, Buffer.from([0x14, 3, 3, 0, 1, 1])]));
  assert.equal(result.status, 'ok');
  assert.equal(result.status === 'ok' && result.length, hello.length);
});

test('a reader gives up past its raw-byte budget instead of buffering without end', () => {
  // A 60 KiB hello in one-byte records would need 360 KiB of raw bytes.
  const big = records(clientHelloMessage([sni, [0x4444, Buffer.alloc(60 * 1024)]]), [1]);
  const result = parseClientHello(big);
  assert.equal(result.status, 'invalid');
  assert.match((result as { error: string }).error, /too large/);
});

test('a reader fed a one-byte-record hello a byte at a time gets the same answer', () => {
  const input = records(clientHelloMessage([sni, echOuterExt(), h2]), [1]);
  const reader = createClientHelloReader();
  let result: ClientHelloResult = { status: 'need-more' };
  for (let i = 0; i < input.length; i += 1) {
    result = reader.push(input.subarray(i, i + 1));
    if (i < input.length - 1) assert.equal(result.status, 'need-more', `byte ${i}`);
  }
  check(result, ok('api.example.test', { alpn: ['h2', 'http/1.1'], ech: true }), input);
});

test('isGrease knows the sixteen GREASE values and nothing else', () => {
  let count = 0;
  for (let value = 0; value <= 0xffff; value += 1) if (isGrease(value)) count += 1;
  assert.equal(count, 16);
  for (const value of GREASE) assert.ok(isGrease(value), value.toString(16));
  assert.equal(isGrease(0x1a2a), false);
});

// Properties.
const extensionType = fc.integer({ min: 0x0100, max: 0xfdff }).filter((t) => !isGrease(t) && t !== 0xfe0d && t !== 0xffce);
const extensionList = fc.uniqueArray(fc.tuple(extensionType, fc.uint8Array({ maxLength: 40 })), { selector: ([type]) => type, maxLength: 6 });
const recordSizes = fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 });
const host = fc.stringMatching(/^[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,3}$/);

test('property: any record split and any chunking give the same SNI, ALPN, version and ECH', () => {
  fc.assert(fc.property(extensionList, host, fc.boolean(), recordSizes, fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 5 }),
    (others, name, withEch, sizes, chunkSizes) => {
      const extensions: Extension[] = [serverNameExt(name), ...others, h2, ...(withEch ? [echOuterExt(30)] : [])];
      const message = clientHelloMessage(extensions);
      const whole = parseClientHello(records(message));
      const split = records(message, sizes);
      const reader = createClientHelloReader();
      let result: ClientHelloResult = { status: 'need-more' };
      for (let at = 0, i = 0; at < split.length; i += 1) {
        const size = chunkSizes[i % chunkSizes.length] ?? 1;
        result = reader.push(split.subarray(at, at + size));
        at += size;
      }
      assert.equal(whole.status, 'ok');
      assert.equal(result.status, 'ok');
      if (whole.status === 'ok' && result.status === 'ok') {
        assert.deepEqual({ ...result, length: 0 }, { ...whole, length: 0 });
        assert.equal(result.sni, name);
        assert.equal(result.ech, withEch);
        assert.equal(result.length, split.length);
      }
    }), { seed: 0x5eed, numRuns: 300 });
});

test('property: GREASE extensions anywhere never change the result', () => {
  fc.assert(fc.property(fc.uniqueArray(fc.constantFrom(...GREASE), { minLength: 1, maxLength: 4 }), fc.nat(3), (greases, at) => {
    const base: Extension[] = [sni, h2, tls13];
    const withGrease = [...base];
    withGrease.splice(Math.min(at, base.length), 0, ...greases.map((g): Extension => [g, Uint8Array.from([g & 0xff])]));
    const plain = parseClientHello(clientHello(base));
    const greased = parseClientHello(clientHello(withGrease));
    assert.equal(greased.status, 'ok');
    assert.deepEqual({ ...greased, length: 0 }, { ...plain, length: 0 });
  }), { seed: 0x9ea5e, numRuns: 200 });
});

test('property: any extension type sent twice makes the hello invalid', () => {
  fc.assert(fc.property(extensionList.filter((list) => list.length > 0), fc.nat(), fc.nat(), (list, which, where) => {
    const duplicate = list[which % list.length]!;
    const extensions: Extension[] = [sni, ...list];
    extensions.splice(where % (extensions.length + 1), 0, duplicate);
    const result = parseClientHello(clientHello(extensions));
    assert.equal(result.status, 'invalid');
    assert.match((result as { error: string }).error, /duplicate extension/);
  }), { seed: 0xd0b1e, numRuns: 200 });
});

test('property: every strict prefix of a split hello asks for more, never guesses', () => {
  fc.assert(fc.property(recordSizes, (sizes) => {
    const split = records(clientHelloMessage([sni, echOuterExt(20)]), sizes);
    for (let cut = 0; cut < split.length; cut += Math.max(1, Math.floor(split.length / 40))) {
      assert.equal(parseClientHello(split.subarray(0, cut)).status, 'need-more', `cut ${cut}`);
    }
  }), { seed: 0x9e1f, numRuns: 100 });
});

test('the size limit is the one the proxy documents', () => {
  assert.equal(MAX_CLIENT_HELLO, 65536);
});
