import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkSwitchingProtocols, createFrameChecker, expectedAccept } from '../../../src/http/websocket-frames.js';

/** A client frame as RFC 6455 §5.2 lays it out, masked unless told otherwise. */
const frame = (opcode: number, payload: Buffer, options: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer => {
  const { fin = true, mask = true, rsv = 0 } = options;
  const head = [((fin ? 0x80 : 0) | (rsv << 4) | opcode)];
  const len = payload.length;
  const lengthBytes = len < 126 ? [] : len < 65536 ? [(len >> 8) & 0xff, len & 0xff] : [0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff];
  head.push((mask ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127), ...lengthBytes);
  const key = mask ? [1, 2, 3, 4] : [];
  const body = mask ? Buffer.from(payload.map((b, i) => b ^ (key[i % 4] as number))) : payload;
  return Buffer.concat([Buffer.from([...head, ...key]), body]);
};

test('masked text, binary, continuation and control frames of every length encoding pass, even split byte by byte', () => {
  const stream = Buffer.concat([
    frame(0x1, Buffer.from('hello')), frame(0x2, Buffer.alloc(125)), frame(0x2, Buffer.alloc(126)), frame(0x2, Buffer.alloc(70_000)),
    frame(0x1, Buffer.from('a'), { fin: false }), frame(0x0, Buffer.from('b')), frame(0x9, Buffer.alloc(3)), frame(0xa, Buffer.alloc(0)), frame(0x8, Buffer.from([3, 232])),
  ]);
  assert.equal(createFrameChecker({ allowRsv1: false }).push(stream), undefined);
  const bytewise = createFrameChecker({ allowRsv1: false });
  for (let i = 0; i < stream.length; i += 1) assert.equal(bytewise.push(stream.subarray(i, i + 1)), undefined, `byte ${i}`);
});

test('anything that is not a client frame is refused, and stays refused', () => {
  const cases: ReadonlyArray<readonly [string, Buffer, RegExp]> = [
    ['an HTTP request', Buffer.from('GET /denied HTTP/1.1\r\nHost: other\r\n\r\n'), /reserved bits|reserved opcode|not masked/],
    ['a pipelined DELETE', Buffer.from('DELETE /storage/v1/b/other/o/victim HTTP/1.1\r\n\r\n'), /reserved|not masked/],
    ['the HTTP/2 connection preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), /reserved|not masked/],
    ['an unmasked frame', frame(0x1, Buffer.from('x'), { mask: false }), /not masked/],
    ['RSV1 without permessage-deflate', frame(0x1, Buffer.from('x'), { rsv: 4 }), /reserved bits/],
    ['RSV2', frame(0x1, Buffer.from('x'), { rsv: 2 }), /reserved bits/],
    ['a reserved opcode', frame(0x3, Buffer.from('x')), /reserved opcode/],
    ['a fragmented ping', frame(0x9, Buffer.from('x'), { fin: false }), /control frame/],
    ['an oversized close', frame(0x8, Buffer.alloc(126)), /control frame/],
  ];
  for (const [name, bytes, why] of cases) {
    const checker = createFrameChecker({ allowRsv1: false });
    assert.match(checker.push(bytes) ?? '', why, name);
    assert.ok(checker.push(frame(0x1, Buffer.from('ok'))) !== undefined, `${name}: a refused stream stays refused`);
  }
  assert.equal(createFrameChecker({ allowRsv1: true }).push(frame(0x1, Buffer.from('x'), { rsv: 4 })), undefined, 'RSV1 with permessage-deflate');
});

test('a valid frame sequence passes however it is cut into chunks (property)', () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.constantFrom(0x1, 0x2), fc.integer({ min: 0, max: 70_000 })), { minLength: 1, maxLength: 5 }),
    fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }),
    (frames, cuts) => {
      const stream = Buffer.concat(frames.map(([op, len]) => frame(op, Buffer.alloc(len, 7))));
      const checker = createFrameChecker({ allowRsv1: false });
      let at = 0;
      let i = 0;
      while (at < stream.length) {
        const size = cuts[i % cuts.length] as number;
        if (checker.push(stream.subarray(at, at + size)) !== undefined) return false;
        at += size;
        i += 1;
      }
      return true;
    },
  ), { numRuns: 100, seed: 12 });
});

test('a 101 must switch to websocket and prove it read this request (Sec-WebSocket-Accept)', () => {
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  assert.equal(expectedAccept(key), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'RFC 6455 §1.3 example');
  const ok = new Map([['upgrade', 'websocket'], ['sec-websocket-accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=']]);
  assert.equal(checkSwitchingProtocols(key, ok), undefined);
  assert.match(checkSwitchingProtocols(key, new Map([['upgrade', 'h2c']])) ?? '', /not websocket/);
  assert.match(checkSwitchingProtocols(key, new Map([['upgrade', 'websocket'], ['sec-websocket-accept', 'wrong']])) ?? '', /Sec-WebSocket-Accept/);
  assert.match(checkSwitchingProtocols(undefined, ok) ?? '', /no Sec-WebSocket-Key/);
});
