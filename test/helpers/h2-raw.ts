import net from 'node:net';

/**
 * A raw HTTP/2 client (prior knowledge, cleartext) that sends header blocks no HTTP/2 library
 * would: CR/LF/NUL in fields, uppercase names, pseudo-headers out of place. HPACK literals
 * without indexing or Huffman coding (RFC 7541 §6.2.2), so any byte goes through as written.
 */
const hpackInt = (value: number, prefixBits: number, first = 0): number[] => {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest & 127) | 128);
    rest >>= 7;
  }
  out.push(rest);
  return out;
};

export const hpackLiteral = (name: string, value: string): Buffer => {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0, ...hpackInt(n.length, 7)]), n, Buffer.from(hpackInt(v.length, 7)), v]);
};

export const h2Frame = (type: number, flags: number, stream: number, payload: Uint8Array): Buffer => {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
};

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const SETTINGS = 4;
const HEADERS = 1;
const DATA = 0;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

/** The frames a client sends for one request on stream 1: preface, SETTINGS (+ACK), HEADERS, optional DATA. */
export const h2Request = (fields: ReadonlyArray<readonly [string, string]>, body?: Uint8Array): Buffer => {
  const block = Buffer.concat(fields.map(([name, value]) => hpackLiteral(name, value)));
  return Buffer.concat([
    PREFACE,
    h2Frame(SETTINGS, 0, 0, new Uint8Array(0)),
    h2Frame(SETTINGS, 1, 0, new Uint8Array(0)),
    h2Frame(HEADERS, END_HEADERS | (body === undefined ? END_STREAM : 0), 1, block),
    ...(body === undefined ? [] : [h2Frame(DATA, END_STREAM, 1, body)]),
  ]);
};

export interface H2Answer {
  /** Frame types the server sent on stream 1 or the connection: HEADERS, RST_STREAM(code), GOAWAY(code). */
  readonly frames: readonly string[];
}

/** Sends bytes, reads frames until the peer closes or `idleMs` passes without data (bounded by timeoutMs). */
export const sendH2 = (port: number, bytes: Buffer, idleMs = 200, timeoutMs = 3000): Promise<H2Answer> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    let idle: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(idle);
      clearTimeout(overall);
      socket.destroy();
      const frames: string[] = [];
      for (let at = 0; at + 9 <= data.length;) {
        const length = data.readUIntBE(at, 3);
        const type = data[at + 3];
        const payload = data.subarray(at + 9, at + 9 + length);
        if (type === 1) frames.push('HEADERS');
        else if (type === 3 && payload.length >= 4) frames.push(`RST_STREAM(${payload.readUInt32BE(0)})`);
        else if (type === 7 && payload.length >= 8) frames.push(`GOAWAY(${payload.readUInt32BE(4)})`);
        at += 9 + length;
      }
      resolve({ frames });
    };
    const overall = setTimeout(done, timeoutMs);
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(done, idleMs);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      arm();
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      arm();
    });
    socket.on('close', done);
    socket.on('error', done);
  });
