/**
 * Checks one request head (version and raw header list, HTTP/2 pseudo-headers included) for
 * framing that two parsers could read differently, before anything goes upstream: the proxy
 * re-serializes HTTP/2 into HTTP/1.1, so a field Node passes on but HTTP/1.1 would split,
 * fold or reframe must be refused, not forwarded.
 *
 * What Node refuses by itself (seen with Node 20 / nghttp2 1.61, pinned by
 * test/security/header-framing-baseline.test.ts): in HTTP/1.x llhttp refuses CR, LF and NUL in
 * fields, obs-fold, spaces before the colon, repeated or listed Content-Length and
 * Transfer-Encoding with Content-Length; it trims OWS around values, but passes two Host fields
 * and Transfer-Encoding codings other than chunked ("gzip, chunked", "identity"). In HTTP/2 nghttp2 resets the stream for a repeated or misplaced
 * pseudo-header, an unknown or response pseudo-header, an uppercase name, a missing
 * :method/:scheme/:path, connection-specific fields (Connection, Keep-Alive,
 * Proxy-Connection, Transfer-Encoding, Upgrade), TE other than "trailers", a malformed
 * Content-Length and a Content-Length that disagrees with the DATA frames; and it silently
 * drops a regular field whose name or value holds CR, LF, NUL, spaces, a colon or leading or
 * trailing whitespace. It passes on a Host that disagrees with :authority, HTTP2-Settings,
 * userinfo in :authority and two Host fields; this validator refuses those and, as a second
 * line, everything above, whatever parser the head came from.
 */
export interface RequestHead {
  /** "1.0", "1.1" or "2.0", as Node reports it. */
  readonly httpVersion: string;
  /** Name, value, name, value... as received (Node's rawHeaders), pseudo-headers first for HTTP/2. */
  readonly rawHeaders: readonly string[];
}

export type HeadRefusalReason = 'malformed-request' | 'host-mismatch';

export type HeadCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: HeadRefusalReason; readonly detail: string };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Field-value characters (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB; never CR, LF, NUL or other controls. */
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
/** Connection-specific fields, meaningless (and forbidden) in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

const refuse = (detail: string, reason: HeadRefusalReason = 'malformed-request'): HeadCheck => ({ ok: false, reason, detail });

/** Printable form of a field for a detail message: controls escaped, cut short. */
const show = (text: string): string =>
  JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const checkField = (name: string, value: string, http2: boolean): HeadCheck | undefined => {
  const pseudo = http2 && name.startsWith(':');
  if (!TOKEN.test(pseudo ? name.slice(1) : name)) return refuse(`invalid header name ${show(name)}`);
  if (http2 && name !== name.toLowerCase()) return refuse(`uppercase header name ${show(name)} in HTTP/2`);
  if (BAD_VALUE_CHAR.test(value)) return refuse(`control character (CR, LF, NUL or other) in the value of ${show(name)}`);
  if (/^[ \t]|[ \t]$/.test(value)) return refuse(`leading or trailing whitespace in the value of ${show(name)}`);
  return undefined;
};

/** Content-Length must be one field holding one decimal number (RFC 9110 §8.6). */
const checkContentLength = (values: readonly string[]): HeadCheck | undefined => {
  if (values.length === 0) return undefined;
  if (values.length > 1) return refuse(`${values.length} Content-Length fields (${values.map(show).join(', ')})`);
  const value = values[0] ?? '';
  if (!/^\d{1,15}$/.test(value)) return refuse(`Content-Length ${show(value)} is not a single decimal number`);
  return undefined;
};

const hostOf = (authority: string, scheme: string | undefined): string => {
  const lower = authority.toLowerCase();
  const defaultPort = scheme === 'http' ? ':80' : scheme === 'https' ? ':443' : undefined;
  return defaultPort !== undefined && lower.endsWith(defaultPort) ? lower.slice(0, -defaultPort.length) : lower;
};

const checkHttp2Pseudo = (pseudo: ReadonlyMap<string, string>, hosts: readonly string[]): HeadCheck | undefined => {
  const method = pseudo.get(':method');
  if (method === undefined) return refuse('HTTP/2 request without :method');
  if (!TOKEN.test(method)) return refuse(`invalid :method ${show(method)}`);
  const scheme = pseudo.get(':scheme');
  const path = pseudo.get(':path');
  const authority = pseudo.get(':authority');
  if (pseudo.has(':protocol') && method !== 'CONNECT') return refuse(':protocol outside an extended CONNECT');
  if (method === 'CONNECT' && !pseudo.has(':protocol')) {
    if (scheme !== undefined || path !== undefined) return refuse('CONNECT with :scheme or :path');
    if (authority === undefined) return refuse('CONNECT without :authority');
  } else {
    if (scheme === undefined || path === undefined) return refuse('HTTP/2 request without :scheme or :path');
    if (scheme !== 'http' && scheme !== 'https') return refuse(`unsupported :scheme ${show(scheme)}`);
    if (!(path.startsWith('/') || (path === '*' && method === 'OPTIONS'))) return refuse(`invalid :path ${show(path)}`);
    if (/[\s]/.test(path)) return refuse(`whitespace in :path ${show(path)}`);
  }
  if (authority !== undefined) {
    if (authority.length === 0) return refuse('empty :authority');
    if (authority.includes('@')) return refuse(':authority holds credentials (userinfo)');
    const disagree = hosts.find((host) => hostOf(host, scheme) !== hostOf(authority, scheme));
    if (disagree !== undefined) return refuse(`Host ${show(disagree)} disagrees with :authority ${show(authority)}`, 'host-mismatch');
  }
  return undefined;
};

export const validateRequestHead = (head: RequestHead): HeadCheck => {
  const http2 = head.httpVersion.startsWith('2');
  const { rawHeaders } = head;
  if (rawHeaders.length % 2 !== 0) return refuse('header list of odd length');
  const pseudo = new Map<string, string>();
  const hosts: string[] = [];
  const contentLengths: string[] = [];
  const transferEncodings: string[] = [];
  let regularSeen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const value = rawHeaders[i + 1] ?? '';
    const bad = checkField(name, value, http2);
    if (bad) return bad;
    const lower = name.toLowerCase();
    if (http2 && lower.startsWith(':')) {
      if (regularSeen) return refuse(`pseudo-header ${show(name)} after a regular header`);
      if (!REQUEST_PSEUDO.has(lower)) return refuse(`pseudo-header ${show(name)} is not a request pseudo-header`);
      if (pseudo.has(lower)) return refuse(`pseudo-header ${show(name)} repeated`);
      pseudo.set(lower, value);
      continue;
    }
    regularSeen = true;
    if (lower === 'host') hosts.push(value);
    else if (lower === 'content-length') contentLengths.push(value);
    else if (lower === 'transfer-encoding') transferEncodings.push(value);
    if (http2 && CONNECTION_SPECIFIC.has(lower)) return refuse(`connection-specific header ${show(name)} in HTTP/2`);
    if (http2 && lower === 'te' && value.toLowerCase() !== 'trailers') return refuse(`TE ${show(value)} in HTTP/2 (only "trailers" is allowed)`);
  }
  if (hosts.length > 1) return refuse(`${hosts.length} Host fields`, 'host-mismatch');
  if (head.httpVersion === '1.1' && hosts.length === 0) return refuse('HTTP/1.1 request without Host', 'host-mismatch');
  const length = checkContentLength(contentLengths);
  if (length) return length;
  if (http2) return checkHttp2Pseudo(pseudo, hosts) ?? { ok: true };
  if (transferEncodings.length > 0) {
    if (head.httpVersion !== '1.1') return refuse(`Transfer-Encoding in an HTTP/${head.httpVersion} request`);
    if (transferEncodings.length > 1) return refuse(`${transferEncodings.length} Transfer-Encoding fields`);
    const coding = transferEncodings[0] ?? '';
    if (coding.toLowerCase() !== 'chunked') return refuse(`Transfer-Encoding ${show(coding)}: only "chunked" is accepted`);
    if (contentLengths.length > 0) return refuse('both Transfer-Encoding and Content-Length');
  }
  return { ok: true };
};
