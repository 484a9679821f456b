import { createHash } from 'node:crypto';

/**
 * RFC 6455 framing of what a WebSocket client sends, checked as it streams by. After a 101 the
 * proxy no longer sees requests, so it makes sure it sees WebSocket frames: a client that sends
 * anything else (an HTTP request for a path the policy denies, an HTTP/2 preface) is cut off
 * before those bytes reach the origin. Hand-written: it reads only frame headers (2 to 14
 * bytes each) and skips payloads by length, which no WebSocket library exposes on its own.
 */
export interface FrameChecker {
  /** Feeds the next bytes from the client; returns why they are not WebSocket frames, or undefined. */
  push(chunk: Buffer): string | undefined;
}

export interface FrameRules {
  /** permessage-deflate was accepted in the 101: RSV1 marks compressed messages. */
  readonly allowRsv1: boolean;
}

const CONTROL = new Set([0x8, 0x9, 0xa]);
const DATA = new Set([0x0, 0x1, 0x2]);

export const createFrameChecker = (rules: FrameRules): FrameChecker => {
  // Bytes of the current frame's header seen so far (at most 14), and payload bytes still to skip.
  let header = Buffer.alloc(0);
  let skip = 0;
  let failed: string | undefined;

  /** Parses a complete header, or says how many bytes it needs; undefined length means incomplete. */
  const parse = (h: Buffer): { length?: number; size?: number; error?: string } => {
    if (h.length < 2) return {};
    const b0 = h[0] as number;
    const b1 = h[1] as number;
    const rsv = (b0 >> 4) & 0x7;
    const opcode = b0 & 0xf;
    if (rsv & 0b011 || (rsv & 0b100 && !rules.allowRsv1)) return { error: 'reserved bits set without a negotiated extension' };
    if (!CONTROL.has(opcode) && !DATA.has(opcode)) return { error: `reserved opcode 0x${opcode.toString(16)}` };
    if ((b1 & 0x80) === 0) return { error: 'a client frame is not masked' };
    const short = b1 & 0x7f;
    if (CONTROL.has(opcode) && ((b0 & 0x80) === 0 || short > 125)) return { error: 'fragmented or oversized control frame' };
    const extra = short === 126 ? 2 : short === 127 ? 8 : 0;
    const size = 2 + extra + 4;
    if (h.length < size) return {};
    let length = short;
    if (short === 126) length = h.readUInt16BE(2);
    if (short === 127) {
      const high = h.readUInt32BE(2);
      if (high > 0x1fffff) return { error: 'payload length out of range' };
      length = high * 0x1_0000_0000 + h.readUInt32BE(6);
    }
    return { length, size };
  };

  return {
    push(chunk) {
      if (failed !== undefined) return failed;
      let at = 0;
      while (at < chunk.length) {
        if (skip > 0) {
          const take = Math.min(skip, chunk.length - at);
          skip -= take;
          at += take;
          continue;
        }
        // Gather header bytes one frame at a time (a header may be split across chunks).
        const need = Math.min(14 - header.length, chunk.length - at);
        const candidate = Buffer.concat([header, chunk.subarray(at, at + need)]);
        const parsed = parse(candidate);
        if (parsed.error !== undefined) {
          failed = parsed.error;
          return failed;
        }
        if (parsed.size === undefined || parsed.length === undefined) {
          header = candidate;
          at += need;
          continue;
        }
        const used = parsed.size - header.length;
        header = Buffer.alloc(0);
        at += used;
        skip = parsed.length;
      }
      return undefined;
    },
  };
};

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept an origin must answer for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export const expectedAccept = (key: string): string => createHash('sha1').update(`${key.trim()}${WEBSOCKET_GUID}`).digest('base64');

/**
 * Checks an origin's 101 against the WebSocket handshake the client started: the same protocol
 * (Upgrade: websocket), and proof that the origin read this very request (Sec-WebSocket-Accept).
 * Returns the problem, or undefined. `headers` are the 101's lowercased names and values.
 */
export const checkSwitchingProtocols = (key: string | undefined, headers: ReadonlyMap<string, string>): string | undefined => {
  if ((headers.get('upgrade') ?? '').trim().toLowerCase() !== 'websocket') return `the 101 switches to "${headers.get('upgrade') ?? ''}", not websocket`;
  if (key === undefined) return 'the upgrade request had no Sec-WebSocket-Key';
  if ((headers.get('sec-websocket-accept') ?? '').trim() !== expectedAccept(key)) return 'the 101 does not carry the Sec-WebSocket-Accept of this request';
  return undefined;
};

/** Header names and values of a raw response head (first value wins), lowercased names. */
export const responseHeaders = (head: Buffer): Map<string, string> => {
  const text = head.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const lines = text.slice(0, end < 0 ? text.length : end).split('\r\n').slice(1);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
};
