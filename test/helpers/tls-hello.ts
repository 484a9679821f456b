/**
 * Builds TLS ClientHello bytes by hand, for the cases no real client library will send:
 * duplicate extensions, several server names, GREASE everywhere, ECH, odd record splits.
 */
export type Extension = readonly [type: number, data: Uint8Array];

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u24 = (n: number): Buffer => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const vec16 = (data: Uint8Array): Buffer => Buffer.concat([u16(data.length), data]);
const vec8 = (data: Uint8Array): Buffer => Buffer.concat([Buffer.from([data.length]), data]);

/** server_name: one entry a name; type 0 is host_name. */
export const serverNameExt = (...names: ReadonlyArray<string | readonly [number, string]>): Extension => {
  const entries = names.map((entry) => {
    const [type, name] = typeof entry === 'string' ? [0, entry] : entry;
    return Buffer.concat([Buffer.from([type]), vec16(Buffer.from(name, 'latin1'))]);
  });
  return [0x0000, vec16(Buffer.concat(entries))];
};

export const alpnExt = (...protocols: ReadonlyArray<string | Uint8Array>): Extension =>
  [0x0010, vec16(Buffer.concat(protocols.map((p) => vec8(typeof p === 'string' ? Buffer.from(p, 'latin1') : p))))];

export const supportedVersionsExt = (...versions: readonly number[]): Extension =>
  [0x002b, vec8(Buffer.concat(versions.map(u16)))];

/** An ECH "outer" ClientHello extension (draft-ietf-tls-esni-18 §5): HPKE suite, config id, enc, payload. */
export const echOuterExt = (payloadLength = 200): Extension =>
  [0xfe0d, Buffer.concat([Buffer.from([0]), u16(0x0001), u16(0x0001), Buffer.from([7]), vec16(Buffer.alloc(32, 0x42)), vec16(Buffer.alloc(payloadLength, 0x99))])];

/** supported_groups with a GREASE group first, as Chrome sends it. */
export const supportedGroupsExt = (...groups: readonly number[]): Extension => [0x000a, vec16(Buffer.concat(groups.map(u16)))];

export interface HelloOptions {
  readonly legacyVersion?: number;
  readonly cipherSuites?: readonly number[];
  /** Bytes appended after the extensions block, inside the ClientHello body. */
  readonly trailing?: Uint8Array;
  /** Leave the extensions block out entirely (an SSLv3-style hello). */
  readonly noExtensions?: boolean;
}

/** One ClientHello handshake message (type 1, length, body). */
export const clientHelloMessage = (extensions: readonly Extension[], options: HelloOptions = {}): Buffer => {
  const suites = options.cipherSuites ?? [0x1301, 0x1302, 0xc02f];
  const body = Buffer.concat([
    u16(options.legacyVersion ?? 0x0303),
    Buffer.alloc(32, 0x11),
    vec8(Buffer.alloc(32, 0x22)),
    vec16(Buffer.concat(suites.map(u16))),
    vec8(Buffer.from([0])),
    options.noExtensions ? Buffer.alloc(0) : vec16(Buffer.concat(extensions.map(([type, data]) => Buffer.concat([u16(type), vec16(data)])))),
    options.trailing ?? Buffer.alloc(0),
  ]);
  return Buffer.concat([Buffer.from([1]), u24(body.length), body]);
};

/** Wraps handshake bytes into TLS records, cut at the given sizes (the last size repeats). */
export const records = (handshake: Uint8Array, sizes: readonly number[] = [16384], contentType = 0x16): Buffer => {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < handshake.length; i += 1) {
    const size = Math.max(1, sizes[Math.min(i, sizes.length - 1)] ?? 16384);
    const piece = handshake.subarray(at, at + size);
    out.push(Buffer.from([contentType, 0x03, 0x01]), u16(piece.length), Buffer.from(piece));
    at += piece.length;
  }
  return Buffer.concat(out);
};

export const clientHello = (extensions: readonly Extension[], options: HelloOptions = {}): Buffer =>
  records(clientHelloMessage(extensions, options));

/** The sixteen GREASE values of RFC 8701. */
export const GREASE = Array.from({ length: 16 }, (_, i) => ((i << 4) | 0x0a) * 0x101);
