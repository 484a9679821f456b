/**
 * TLS ClientHello parser (RFC 8446 §4.1.2, RFC 6066 §3 server_name, RFC 7301 ALPN, RFC 8701
 * GREASE, draft-ietf-tls-esni ECH). Pure and total: any byte string gives a result, never an
 * exception. It reassembles a ClientHello split over many TLS records, as a peeking proxy must,
 * incrementally: a reader fed one byte at a time does linear work in all.
 *
 * Strict where a lenient reading could let the proxy and the origin disagree on the destination:
 * duplicate extensions, a server_name list that is not exactly one host_name, trailing bytes and
 * empty ALPN names are `invalid`.
 */
export type ClientHelloResult =
  | { readonly status: 'need-more' }
  | { readonly status: 'not-tls' }
  | { readonly status: 'invalid'; readonly error: string }
  | ClientHelloOk;

export interface ClientHelloOk {
  readonly status: 'ok';
  /** The host_name of the server_name extension, as sent (not normalized); absent when none. */
  readonly sni?: string;
  /** ALPN protocols offered, GREASE values left out. */
  readonly alpn: readonly string[];
  /** Highest version offered: from supported_versions when present (GREASE skipped), else the legacy field. */
  readonly version: number;
  /**
   * True when the hello carries Encrypted Client Hello (0xfe0d) or its predecessor ESNI (0xffce):
   * the SNI is then only a public name and the real destination is hidden. A GREASE ECH (sent
   * by browsers without an ECH config) cannot be told apart from a real one, by design.
   */
  readonly ech: boolean;
  /** Bytes of the records that held the ClientHello. */
  readonly length: number;
}

const RECORD_HEADER = 5;
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const MAX_RECORD = 16384 + 2048;
/** A ClientHello larger than this (e.g. with huge post-quantum key shares) is still fine; beyond is abuse. */
export const MAX_CLIENT_HELLO = 64 * 1024;
/**
 * Raw bytes a reader accepts before giving up: room for a ClientHello of ~21 KiB cut into
 * one-byte records (6 raw bytes a byte), or a 64 KiB one in ordinary records.
 */
export const MAX_CLIENT_HELLO_RAW = 2 * MAX_CLIENT_HELLO;

export const EXT_SERVER_NAME = 0x0000;
export const EXT_ALPN = 0x0010;
export const EXT_SUPPORTED_VERSIONS = 0x002b;
export const EXT_ECH = 0xfe0d;
export const EXT_ESNI = 0xffce;

/** RFC 8701: 0x0A0A, 0x1A1A, ... 0xFAFA (both bytes equal, low nibble A). */
export const isGrease = (value: number): boolean => (value & 0x0f0f) === 0x0a0a && value >> 8 === (value & 0xff);

const invalid = (error: string): ClientHelloResult => ({ status: 'invalid', error });

const concat = (parts: readonly Uint8Array[]): Uint8Array => {
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

/** server_name (RFC 6066 §3): exactly one entry, of type host_name, as OpenSSL also demands. */
const readServerName = (ext: Reader): { sni: string } | { error: string } => {
  const list = ext.sub(ext.u16());
  if (!ext.ok || ext.remaining !== 0) return { error: 'malformed server_name extension' };
  const nameType = list.u8();
  const name = list.slice(list.u16());
  if (!list.ok) return { error: 'malformed server_name extension' };
  if (list.remaining !== 0) return { error: 'more than one name in server_name' };
  if (nameType !== 0) return { error: `server_name of unknown type ${nameType}` };
  const text = ascii(name);
  if (text === undefined || text.length === 0) return { error: 'server_name is not a printable ASCII host name' };
  return { sni: text };
};

const readAlpn = (ext: Reader): { alpn: string[] } | { error: string } => {
  const list = ext.sub(ext.u16());
  if (!ext.ok || ext.remaining !== 0 || list.remaining === 0) return { error: 'malformed ALPN extension' };
  const alpn: string[] = [];
  while (list.ok && list.remaining > 0) {
    const protocol = list.slice(list.u8());
    if (!list.ok) break;
    if (protocol.length === 0) return { error: 'empty protocol name in ALPN' };
    const grease = protocol.length === 2 && isGrease((protocol[0]! << 8) | protocol[1]!);
    if (!grease) alpn.push(Buffer.from(protocol).toString('latin1'));
  }
  return list.ok ? { alpn } : { error: 'malformed ALPN extension' };
};

const readSupportedVersions = (ext: Reader, legacy: number): { version: number } | { error: string } => {
  const list = ext.sub(ext.u8());
  if (!ext.ok || ext.remaining !== 0 || list.remaining === 0 || list.remaining % 2 !== 0) return { error: 'malformed supported_versions extension' };
  let version = legacy;
  while (list.remaining >= 2) {
    const offered = list.u16();
    if (!isGrease(offered) && offered > version && offered <= 0x0304) version = offered;
  }
  return { version };
};

/** Parses one complete ClientHello handshake message (type, length, body). */
export const parseHandshake = (handshake: Uint8Array, length: number): ClientHelloResult => {
  const r = new Reader(handshake);
  if (r.u8() !== CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
  const body = r.sub(r.u24());
  if (!r.ok || r.remaining !== 0) return invalid('truncated ClientHello');
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
  let alpn: string[] = [];
  let version = legacyVersion;
  let ech = false;
  if (body.remaining > 0) {
    const extensions = body.sub(body.u16());
    if (!body.ok) return invalid('malformed extensions');
    const seen = new Set<number>();
    while (extensions.ok && extensions.remaining > 0) {
      const type = extensions.u16();
      const ext = extensions.sub(extensions.u16());
      if (!extensions.ok) break;
      // RFC 8446 §4.2: never two of one type, GREASE types included.
      if (seen.has(type)) return invalid(`duplicate extension 0x${type.toString(16).padStart(4, '0')}`);
      seen.add(type);
      if (type === EXT_SERVER_NAME) {
        const read = readServerName(ext);
        if ('error' in read) return invalid(read.error);
        sni = read.sni;
      } else if (type === EXT_ALPN) {
        const read = readAlpn(ext);
        if ('error' in read) return invalid(read.error);
        alpn = read.alpn;
      } else if (type === EXT_SUPPORTED_VERSIONS) {
        const read = readSupportedVersions(ext, legacyVersion);
        if ('error' in read) return invalid(read.error);
        version = read.version;
      } else if (type === EXT_ECH || type === EXT_ESNI) {
        ech = true;
      }
    }
    if (!extensions.ok) return invalid('malformed extensions');
  }
  if (body.remaining !== 0) return invalid('trailing bytes after the extensions');
  const ok: ClientHelloOk = sni === undefined
    ? { status: 'ok', alpn, version, ech, length }
    : { status: 'ok', sni, alpn, version, ech, length };
  return ok;
};

export interface ClientHelloReader {
  /** Feeds the next bytes from the client; returns the result so far (final once not `need-more`). */
  push(chunk: Uint8Array): ClientHelloResult;
}

/**
 * An incremental reader: complete records are unwrapped once, their handshake bytes kept, so a
 * hello split over thousands of records, arriving a byte at a time, costs linear time.
 */
export const createClientHelloReader = (): ClientHelloReader => {
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  let recordEnd = -1; // length of the record at the head of `pending`, once its header arrived
  let consumed = 0; // raw bytes of complete records unwrapped
  const handshake: Uint8Array[] = [];
  let handshakeLength = 0;
  let needed = -1; // handshake bytes of the whole ClientHello, once its header arrived
  let final: ClientHelloResult | undefined;

  const step = (): ClientHelloResult => {
    for (;;) {
      if (recordEnd < 0) {
        if (pendingLength === 0) return { status: 'need-more' };
        const head = concat(pending);
        pending = [head];
        const first = consumed === 0;
        if (head[0] !== HANDSHAKE) return first ? { status: 'not-tls' } : invalid('non-handshake record inside the ClientHello');
        if (head.length >= 2 && head[1] !== 0x03) return first ? { status: 'not-tls' } : invalid('bad record version');
        if (head.length < RECORD_HEADER) return { status: 'need-more' };
        const length = (head[3]! << 8) | head[4]!;
        if (length === 0 || length > MAX_RECORD) return invalid('bad record length');
        recordEnd = RECORD_HEADER + length;
      }
      if (pendingLength < recordEnd) return { status: 'need-more' };
      const all = concat(pending);
      handshake.push(all.slice(RECORD_HEADER, recordEnd));
      handshakeLength += recordEnd - RECORD_HEADER;
      consumed += recordEnd;
      if (consumed > MAX_CLIENT_HELLO_RAW) return invalid('ClientHello too large');
      const rest = all.subarray(recordEnd);
      pending = rest.length > 0 ? [rest] : [];
      pendingLength = rest.length;
      recordEnd = -1;
      if (needed < 0 && handshakeLength >= 4) {
        const header = concat(handshake);
        if (header[0] !== CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
        needed = 4 + ((header[1]! << 16) | (header[2]! << 8) | header[3]!);
        if (needed > MAX_CLIENT_HELLO) return invalid('ClientHello too large');
      }
      if (needed >= 0 && handshakeLength >= needed) return parseHandshake(concat(handshake).subarray(0, needed), consumed);
    }
  };

  return {
    push(chunk) {
      if (final !== undefined) return final;
      if (chunk.length > 0) {
        pending.push(chunk);
        pendingLength += chunk.length;
      }
      const result = step();
      if (result.status !== 'need-more') final = result;
      else if (consumed + pendingLength > MAX_CLIENT_HELLO_RAW) final = invalid('ClientHello too large');
      return final ?? result;
    },
  };
};

export const parseClientHello = (data: Uint8Array): ClientHelloResult => createClientHelloReader().push(data);
