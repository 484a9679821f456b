/**
 * TLS ClientHello parser (RFC 8446 §4.1.2, RFC 6066 §3 server_name, RFC 7301 ALPN).
 * Pure and total: any byte string gives a result, never an exception. It reassembles a
 * ClientHello split over several TLS records, as a peeking proxy must.
 */
export type ClientHelloResult =
  | { readonly status: 'need-more' }
  | { readonly status: 'not-tls' }
  | { readonly status: 'invalid'; readonly error: string }
  | {
    readonly status: 'ok';
    /** The host_name of the server_name extension, as sent (not normalized); absent when none. */
    readonly sni?: string;
    readonly alpn: readonly string[];
    /** Highest version offered: from supported_versions when present, else the legacy field. */
    readonly version: number;
    /** Bytes of the records that held the ClientHello. */
    readonly length: number;
  };

const RECORD_HEADER = 5;
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
/** A ClientHello larger than this (e.g. with huge post-quantum key shares) is still fine; beyond is abuse. */
export const MAX_CLIENT_HELLO = 64 * 1024;

const invalid = (error: string): ClientHelloResult => ({ status: 'invalid', error });

/** Concatenates the handshake bytes of consecutive handshake records at the start of `data`. */
const reassemble = (data: Uint8Array): { handshake: Uint8Array; consumed: number; complete: boolean } | ClientHelloResult => {
  const parts: Uint8Array[] = [];
  let offset = 0;
  let total = 0;
  let needed = -1;
  while (offset + RECORD_HEADER <= data.length) {
    if (data[offset] !== HANDSHAKE) return offset === 0 ? { status: 'not-tls' } : invalid('non-handshake record inside the ClientHello');
    if (data[offset + 1] !== 0x03) return offset === 0 ? { status: 'not-tls' } : invalid('bad record version');
    const length = ((data[offset + 3] ?? 0) << 8) | (data[offset + 4] ?? 0);
    if (length === 0 || length > 16384 + 2048) return invalid('bad record length');
    if (offset + RECORD_HEADER + length > data.length) break;
    parts.push(data.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + length));
    total += length;
    offset += RECORD_HEADER + length;
    if (needed < 0 && total >= 4) {
      const first = parts.length === 1 ? parts[0]! : concat(parts);
      if (first[0] !== CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
      needed = 4 + (((first[1] ?? 0) << 16) | ((first[2] ?? 0) << 8) | (first[3] ?? 0));
      if (needed > MAX_CLIENT_HELLO) return invalid('ClientHello too large');
    }
    if (needed >= 0 && total >= needed) return { handshake: concat(parts).subarray(0, needed), consumed: offset, complete: true };
  }
  if (data.length > 0 && data[0] !== HANDSHAKE) return { status: 'not-tls' };
  if (data.length >= 2 && data[1] !== 0x03) return { status: 'not-tls' };
  if (data.length > MAX_CLIENT_HELLO + 1024) return invalid('ClientHello too large');
  return { handshake: new Uint8Array(0), consumed: 0, complete: false };
};

const concat = (parts: Uint8Array[]): Uint8Array => {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

/** A bounds-checked cursor; every read past the end flips `ok` to false and returns 0. */
class Reader {
  ok = true;
  constructor(private readonly bytes: Uint8Array, public offset = 0, private readonly end = bytes.length) {}
  u8(): number {
    if (this.offset + 1 > this.end) { this.ok = false; return 0; }
    return this.bytes[this.offset++] ?? 0;
  }
  u16(): number { return (this.u8() << 8) | this.u8(); }
  u24(): number { return (this.u8() << 16) | (this.u8() << 8) | this.u8(); }
  skip(n: number): void {
    if (this.offset + n > this.end) { this.ok = false; this.offset = this.end; return; }
    this.offset += n;
  }
  sub(n: number): Reader {
    if (this.offset + n > this.end) { this.ok = false; return new Reader(this.bytes, this.end, this.end); }
    const reader = new Reader(this.bytes, this.offset, this.offset + n);
    this.offset += n;
    return reader;
  }
  slice(n: number): Uint8Array {
    if (this.offset + n > this.end) { this.ok = false; return new Uint8Array(0); }
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  get remaining(): number { return this.end - this.offset; }
}

const ascii = (bytes: Uint8Array): string | undefined => {
  let out = '';
  for (const byte of bytes) {
    if (byte < 0x21 || byte > 0x7e) return undefined;
    out += String.fromCharCode(byte);
  }
  return out;
};

export const parseClientHello = (data: Uint8Array): ClientHelloResult => {
  const assembled = reassemble(data);
  if ('status' in assembled) return assembled;
  if (!assembled.complete) return { status: 'need-more' };
  const r = new Reader(assembled.handshake);
  r.u8(); // handshake type, checked during reassembly
  const bodyLength = r.u24();
  const body = r.sub(bodyLength);
  const legacyVersion = body.u16();
  body.skip(32); // random
  body.skip(body.u8()); // legacy_session_id
  const suitesLength = body.u16();
  if (suitesLength < 2 || suitesLength % 2 !== 0) return invalid('bad cipher suites length');
  body.skip(suitesLength);
  const compressionLength = body.u8();
  if (compressionLength < 1) return invalid('no compression methods');
  body.skip(compressionLength);
  if (!body.ok) return invalid('truncated ClientHello');
  let sni: string | undefined;
  const alpn: string[] = [];
  let version = legacyVersion;
  const seen = new Set<number>();
  if (body.remaining > 0) {
    const extensions = body.sub(body.u16());
    while (extensions.ok && extensions.remaining > 0) {
      const type = extensions.u16();
      const ext = extensions.sub(extensions.u16());
      if (!extensions.ok) break;
      if (seen.has(type)) return invalid(`duplicate extension ${type}`);
      seen.add(type);
      if (type === 0x0000) {
        const list = ext.sub(ext.u16());
        while (list.ok && list.remaining > 0) {
          const nameType = list.u8();
          const name = list.slice(list.u16());
          if (!list.ok) break;
          if (nameType === 0) {
            if (sni !== undefined) return invalid('more than one host_name in server_name');
            const text = ascii(name);
            if (text === undefined || text.length === 0) return invalid('server_name is not a printable ASCII host name');
            sni = text;
          }
        }
        if (!list.ok) return invalid('malformed server_name extension');
      } else if (type === 0x0010) {
        const list = ext.sub(ext.u16());
        while (list.ok && list.remaining > 0) {
          const protocol = list.slice(list.u8());
          if (list.ok) alpn.push(Buffer.from(protocol).toString('latin1'));
        }
        if (!list.ok) return invalid('malformed ALPN extension');
      } else if (type === 0x002b) {
        const list = ext.sub(ext.u8());
        while (list.ok && list.remaining >= 2) {
          const offered = list.u16();
          // Skip GREASE values (0x?A?A).
          if ((offered & 0x0f0f) !== 0x0a0a && offered > version && offered <= 0x0304) version = offered;
        }
      }
    }
    if (!extensions.ok) return invalid('malformed extensions');
  }
  if (!body.ok) return invalid('truncated ClientHello');
  return sni === undefined
    ? { status: 'ok', alpn, version, length: assembled.consumed }
    : { status: 'ok', sni, alpn, version, length: assembled.consumed };
};
