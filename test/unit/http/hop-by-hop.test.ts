import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stripHopByHop } from '../../../src/http/hop-by-hop.js';

/** The rule as RFC 9110 §7.6.1 states it, written plainly: the reference for the fast version. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'close']);
const reference = (raw: readonly string[], drop?: ReadonlySet<string>): string[] => {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'connection' || name === 'proxy-connection') {
      for (const token of (raw[i + 1] as string).split(',')) if (token.trim()) named.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    if (HOP.has(lower) || named.has(lower) || drop?.has(lower) || lower.startsWith(':')) continue;
    out.push(raw[i] as string, raw[i + 1] as string);
  }
  return out;
};

describe('stripHopByHop', () => {
  it('removes hop-by-hop headers and what Connection names, in any case and position', () => {
    const raw = ['X-Secret', 's', 'Host', 'a.test', 'connection', 'Keep-Alive, X-SECRET', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Accept', '*/*'];
    assert.deepEqual(stripHopByHop(raw), ['Host', 'a.test', 'Accept', '*/*']);
  });

  it('keeps everything else for Connection: close or keep-alive', () => {
    assert.deepEqual(stripHopByHop(['Host', 'a.test', 'Connection', 'close', 'X-Close', 'x']), ['Host', 'a.test', 'X-Close', 'x']);
    // `Close` is a reserved field name (RFC 9110 §16.3.2.2), dropped whether or not Connection names it.
    assert.deepEqual(stripHopByHop(['Close', 'x', 'Host', 'a.test']), ['Host', 'a.test']);
    assert.deepEqual(stripHopByHop(['Connection', 'keep-alive', 'Accept', '*/*']), ['Accept', '*/*']);
  });

  it('follows Proxy-Connection, several Connection headers, pseudo-headers and the drop list', () => {
    const raw = [':path', '/', 'Proxy-Connection', 'x-a', 'X-A', '1', 'Connection', 'x-b', 'X-B', '2', 'Host', 'h', 'X-C', '3'];
    assert.deepEqual(stripHopByHop(raw, new Set(['host'])), ['X-C', '3']);
  });

  it('agrees with the plain reference on generated header lists', () => {
    const names = fc.oneof(
      fc.constantFrom('Host', 'connection', 'Connection', 'PROXY-CONNECTION', 'Keep-Alive', 'te', 'TE', 'Upgrade', 'x-a', 'X-A', 'x-b', 'Close', ':authority', 'Transfer-Encoding', 'accept', 'HTTP2-Settings', 'Trailer'),
      fc.stringMatching(/^[A-Za-z:-]{1,20}$/),
    );
    const tokens = fc.array(fc.oneof(fc.constantFrom('close', 'keep-alive', 'x-a', 'X-B', ' x-a ', '', 'upgrade', 'accept', 'Host'), fc.stringMatching(/^[A-Za-z-]{1,8}$/)), { maxLength: 4 }).map((t) => t.join(','));
    const header = fc.tuple(names, fc.oneof(tokens, fc.constantFrom('1', 'v', '')));
    fc.assert(fc.property(fc.array(header, { maxLength: 12 }), fc.boolean(), (pairs, withDrop) => {
      const raw = pairs.flat();
      const drop = withDrop ? new Set(['host']) : undefined;
      assert.deepEqual(stripHopByHop(raw, drop), reference(raw, drop));
    }), { seed: 0x40b, numRuns: 2000 });
  });
});
