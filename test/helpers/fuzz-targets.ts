import { parentPort, workerData } from 'node:worker_threads';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createClientHelloReader, parseClientHello } from '../../src/net/client-hello.js';
import { formatAuthority, parseAbsoluteTarget, parseAuthority } from '../../src/flow/destination.js';
import { validateRequestHead } from '../../src/flow/validate-request-head.js';
import { hidesDotSegment, normalizePath } from '../../src/policy/path-normalizer.js';
import dnsPacket from 'dns-packet';
import { encodeReply, readQuery, udpLimit } from '../../src/net/dns-message.js';
import { describeServiceBinding, stripServiceBinding } from '../../src/pipeline/service-binding.js';
import { alpnExt, clientHelloMessage, echOuterExt, GREASE, records, serverNameExt, supportedVersionsExt, type Extension } from './tls-hello.js';

/**
 * Fuzz properties of the pure parsers, run in a worker thread by
 * test/security/fuzz-parsers.test.ts so that a hang is caught by a watchdog (a loop that
 * never returns would block the test runner's own timers). Each property asserts no
 * exception and the parser's invariants on what it accepts.
 */
export interface FuzzJob {
  readonly target: FuzzTarget;
  readonly runs: number;
  readonly seed: number;
}

export type FuzzTarget = 'client-hello' | 'authority' | 'request-head' | 'path' | 'dns';

const STATUSES = new Set(['ok', 'need-more', 'not-tls', 'invalid']);

const tokens = (pieces: readonly string[], maxLength: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...pieces), { maxLength }).map((parts) => parts.join(''));
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ maxLength: 60 }));

const extension: fc.Arbitrary<Extension> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 64 })),
  fc.constantFrom(serverNameExt('a.test'), serverNameExt('a.test', 'b.test'), serverNameExt([1, 'x']), alpnExt('h2', 'http/1.1'), alpnExt(''),
    supportedVersionsExt(0x0304, 0x0a0a), echOuterExt(20), [0x0a0a, new Uint8Array(0)] as Extension),
  fc.constantFrom(...GREASE).map((g): Extension => [g, Uint8Array.from([0])]),
);

const clientHelloProperties = (runs: number, seed: number): void => {
  // Any bytes at all.
  fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
    assert.ok(STATUSES.has(parseClientHello(bytes).status));
  }), { numRuns: runs, seed });
  // Structured hellos: random extensions (duplicates, GREASE, ECH, bad lists), random record
  // splits, random byte edits, random chunking; the reader fed in chunks agrees with one call.
  fc.assert(fc.property(
    fc.array(extension, { maxLength: 10 }),
    fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 6 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 6 }),
    (extensions, sizes, edits, chunks) => {
      const bytes = Buffer.from(records(clientHelloMessage(extensions), sizes));
      for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
      const whole = parseClientHello(bytes);
      assert.ok(STATUSES.has(whole.status));
      if (whole.status === 'ok') {
        assert.ok(whole.length <= bytes.length);
        if (whole.sni !== undefined) assert.match(whole.sni, /^[\x21-\x7e]+$/);
      }
      const reader = createClientHelloReader();
      let chunked = reader.push(new Uint8Array(0));
      for (let at = 0, i = 0; at < bytes.length; i += 1) {
        const size = chunks[i % chunks.length] ?? 1;
        chunked = reader.push(bytes.subarray(at, at + size));
        at += size;
      }
      assert.deepEqual(chunked, whole);
    }), { numRuns: runs, seed });
};

const AUTHORITY_PIECES = ['a', 'allowed.test', 'evil', '.', '..', ':', '::', '[', ']', '::1', '127.0.0.1', '0x7f', '0', '00', '443', '0443', '65535',
  '65536', '99999', '+', '-', ' ', '\t', '%', '%2e', '%00', '%2F', '\\', '/', '?', '#', '@', ';', ',', '!', '~', '\u00ad', '\u200b', '\uff0e', 'ü', 'xn--',
  'xn--bcher-kva', 'A', '_', '1', '9', 'e', 'fe80::1%25eth0'];

const authorityProperties = (runs: number, seed: number): void => {
  fc.assert(fc.property(fc.oneof(tokens(AUTHORITY_PIECES, 10), anyText), (text) => {
    const connect = parseAuthority(text);
    if (connect.ok) {
      // What was accepted prints back to an authority that parses to the same destination.
      assert.deepEqual(parseAuthority(formatAuthority(connect.value)), connect);
      assert.ok(connect.value.port >= 1 && connect.value.port <= 65535);
    } else {
      assert.ok(connect.reason === 'invalid-destination' || connect.reason === 'userinfo-in-url');
      assert.doesNotMatch(connect.error, /[\r\n\u0000]/);
    }
    for (const url of [`http://${text}/x`, `https://${text}`, text]) {
      const absolute = parseAbsoluteTarget(url);
      if (absolute.ok) {
        assert.ok(absolute.value.pathAndQuery.startsWith('/'));
        assert.deepEqual(parseAuthority(formatAuthority(absolute.value.destination)).ok, true);
      }
    }
  }), { numRuns: runs, seed });
};

const NAME_PIECES = ['x', 'host', 'Host', ':authority', ':path', ':method', ':scheme', ':status', ':protocol', 'content-length', 'transfer-encoding', 'te',
  'connection', 'upgrade', 'http2-settings', ':', ' ', '\r', '\n', '\u0000', 'A', '-', '\t'];
const VALUE_PIECES = ['a', 'a.test', 'evil.test', '/', '/x', '*', 'GET', 'CONNECT', 'https', 'chunked', 'gzip', 'trailers', '5', '+5', '0x5', ',', ' ', '\t',
  '\r', '\n', '\u0000', '\u007f', 'é', '@', ':443', ''];

const requestHeadProperties = (runs: number, seed: number): void => {
  const field = fc.tuple(tokens(NAME_PIECES, 3), tokens(VALUE_PIECES, 4));
  fc.assert(fc.property(fc.constantFrom('1.0', '1.1', '2.0', '0.9', ''), fc.array(field, { maxLength: 12 }), fc.boolean(), (httpVersion, fields, odd) => {
    const rawHeaders = fields.flatMap(([name, value]) => [name, value]);
    if (odd) rawHeaders.push('dangling');
    const result = validateRequestHead({ httpVersion, rawHeaders });
    if (result.ok) {
      // Nothing accepted carries a byte that could split or reframe a header line.
      for (const text of rawHeaders) assert.doesNotMatch(text, /[\r\n\u0000]/);
      assert.ok(!odd);
    } else {
      assert.ok(result.reason === 'malformed-request' || result.reason === 'host-mismatch');
      assert.doesNotMatch(result.detail, /[\r\n\u0000]/);
    }
  }), { numRuns: runs, seed });
};

const PATH_PIECES = ['/', '/', '/', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '%25', '%252e', '%252F', '\\', ';', '%3b', '%', '%4', '%c0%ae', '%e2%82%ac',
  '%c3', '%00', '?', '#', ' ', 'é', 'a', 'o', 'b', 'storage', 'v1', 'allowed-bkt', '-evil', '%20'];

const pathProperties = (runs: number, seed: number): void => {
  fc.assert(fc.property(fc.oneof(tokens(PATH_PIECES, 16), anyText, anyText.map((s) => `/${s}`)), (text) => {
    const result = normalizePath(text);
    if (!result.ok) {
      assert.match(result.error, /^ambiguous path: /);
      return;
    }
    assert.deepEqual(normalizePath(result.path), result, 'idempotent');
    const segments = result.path.split('/').slice(1);
    segments.forEach((segment, index) => {
      assert.ok(!hidesDotSegment(segment), `${result.path}: segment ${segment}`);
      if (index < segments.length - 1) assert.notEqual(segment, '', result.path);
    });
  }), { numRuns: runs, seed });
};

const RCODES = new Set(['FORMERR', 'NOTIMP']);

const dnsProperties = (runs: number, seed: number): void => {
  const query = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'www.example.com' }] });
  // Any bytes, and a real query with random edits and cuts: readQuery never throws, and whatever it
  // accepts gets a reply that decodes and fits the UDP limit.
  fc.assert(fc.property(
    fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat({ max: query.length }))
      .map(([edits, cut]) => {
        const bytes = Buffer.from(query.subarray(0, Math.max(cut, 12)));
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        return new Uint8Array(bytes);
      })),
    (bytes) => {
      const received = readQuery(Buffer.from(bytes));
      if (!received.query.ok) {
        assert.ok(RCODES.has(received.query.rcode));
        if (!received.query.respond) return;
      }
      const reply = encodeReply(received, { rcode: received.query.ok ? 'NXDOMAIN' : received.query.rcode, answers: [] }, udpLimit(received));
      assert.ok(reply.length <= udpLimit(received));
      assert.equal(dnsPacket.decode(reply).id, received.id);
    }), { numRuns: runs, seed });
  // SVCB RDATA: stripping never throws, and what it keeps is readable and has no ech or hints.
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
    const stripped = stripServiceBinding(bytes);
    if (stripped === undefined) return;
    const text = describeServiceBinding(stripped);
    assert.notEqual(text, '-');
    assert.doesNotMatch(text, / (ech|ipv4hint|ipv6hint)(=| |$)/);
  }), { numRuns: runs, seed });
};

export const runFuzz = (job: FuzzJob): void => {
  const run = {
    'client-hello': clientHelloProperties, authority: authorityProperties, 'request-head': requestHeadProperties, path: pathProperties, dns: dnsProperties,
  }[job.target];
  run(job.runs, job.seed);
};

// As a worker: run the job, report ok or the failure.
if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'target' in (workerData as object)) {
  const port = parentPort;
  try {
    runFuzz(workerData as FuzzJob);
    port.postMessage({ ok: true });
  } catch (error) {
    port.postMessage({ ok: false, error: String((error as Error)?.stack ?? error) });
  }
}
