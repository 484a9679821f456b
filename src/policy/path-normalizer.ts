/**
 * Path normalization for `paths` rules. The policy must judge the path the origin will act on,
 * so anything two servers could read differently (dot-segments, encoded backslashes, empty
 * segments, overlong UTF-8, ...) is refused as ambiguous instead of being resolved by a guess.
 *
 * An encoded slash (%2F) is data: Cloud Storage and S3 object names carry it
 * (`/storage/v1/b/BUCKET/o/dir%2Ffile`), and it stays encoded in the normalized path, so a
 * rule's prefix (which may not hold one) can only match literal-slash segments: the segments a
 * prefix covers are never ambiguous. A server that decodes %2F still sees no traversal, because
 * a dot-segment is refused in every reading of a segment: as sent, with %2F, %5C and %2E
 * decoded, and with %25 decoded (double encoding) up to three times.
 */

export type PathResult = { ok: true; path: string } | { ok: false; error: string };

const HEX = '0123456789ABCDEF';
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;
/** A segment made only of dots and encoded spaces, optionally followed by ";params". */
const DOT_SEGMENT = /^(?:\.|%20)*\.(?:\.|%20)*(?:(?:;|%3B).*)?$/i;
/** What a server that decodes separators inside a segment would split it at. */
const ENCODED_SEPARATOR = /%2F|%5C|\//i;
const DECODING_ROUNDS = 3;

/**
 * True when some reading of the segment is a dot-segment: the segment itself, the pieces
 * between encoded slashes or backslashes (with %2E as a dot), and the same again after each
 * round of %25 decoding. More rounds of %25 than that are refused as well.
 */
export const hidesDotSegment = (segment: string): boolean => {
  let text = segment;
  for (let round = 0; round <= DECODING_ROUNDS; round++) {
    const pieces = text.replace(/%2E/gi, '.').split(ENCODED_SEPARATOR);
    if (pieces.some((piece) => DOT_SEGMENT.test(piece))) return true;
    const next = text.replace(/%25/gi, '%');
    if (next === text) return false;
    text = next;
  }
  return true;
};

const ambiguous = (why: string, raw: string): PathResult => ({ ok: false, error: `ambiguous path: ${why} in ${JSON.stringify(raw)}` });

const isValidUtf8 = (bytes: readonly number[]): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
};

const encodeByte = (byte: number): string => `%${HEX[byte >> 4]}${HEX[byte & 15]}`;

type SegmentResult = { ok: true; segment: string } | { ok: false; why: string };

/** Decodes unreserved escapes in one segment, uppercases the rest and rejects the ambiguous ones. */
const normalizeSegment = (raw: string): SegmentResult => {
  let out = '';
  let highRun: number[] = [];
  const endRun = (): boolean => {
    const valid = highRun.length === 0 || isValidUtf8(highRun);
    highRun = [];
    return valid;
  };
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i] as string;
    if (char !== '%') {
      if (!endRun()) return { ok: false, why: 'invalid UTF-8 in percent-encoded bytes' };
      if (char === '\\') return { ok: false, why: 'backslash' };
      out += char;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX_PAIR.test(hex)) return { ok: false, why: 'malformed percent escape' };
    i += 2;
    const byte = parseInt(hex, 16);
    if (byte >= 0x80) {
      highRun.push(byte);
      out += encodeByte(byte);
      continue;
    }
    if (!endRun()) return { ok: false, why: 'invalid UTF-8 in percent-encoded bytes' };
    if (byte === 0x5c) return { ok: false, why: 'encoded backslash' };
    if (byte < 0x20 || byte === 0x7f) return { ok: false, why: 'encoded control character' };
    const decoded = String.fromCharCode(byte);
    out += UNRESERVED.test(decoded) ? decoded : encodeByte(byte);
  }
  if (!endRun()) return { ok: false, why: 'invalid UTF-8 in percent-encoded bytes' };
  // Beyond "." and "..": "...", "..%20" and "..;x" are dot-segments to Windows or Tomcat, and
  // "a%2F..%2Fb" is one to a server that decodes %2F.
  if (hidesDotSegment(out)) return { ok: false, why: 'dot-segment' };
  return { ok: true, segment: out };
};

/**
 * Normalizes the path of an origin-form request target: drops the query, decodes
 * percent-encoded unreserved characters, uppercases other escapes, and refuses ambiguity.
 * Idempotent on its own output.
 */
export const normalizePath = (rawPathAndQuery: string): PathResult => {
  const query = rawPathAndQuery.indexOf('?');
  const raw = query >= 0 ? rawPathAndQuery.slice(0, query) : rawPathAndQuery;
  if (!raw.startsWith('/')) return ambiguous('path does not start with "/"', raw);
  if (/[^\x21-\x7e]/.test(raw)) return ambiguous('character outside printable ASCII', raw);
  if (raw.includes('#')) return ambiguous('fragment', raw);
  const segments = raw.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment === '' && i < segments.length - 1) return ambiguous('empty segment', raw);
    const normalized = normalizeSegment(segment);
    if (!normalized.ok) return ambiguous(normalized.why, raw);
    out.push(normalized.segment);
  }
  return { ok: true, path: `/${out.join('/')}` };
};

/**
 * Segment-anchored prefix match on normalized paths: "/a/b" matches "/a/b", "/a/b/" and
 * "/a/b/c", never "/a/bc". A prefix ending in "/" matches paths under it; "/" matches all.
 */
export const pathMatchesPrefix = (normalizedPath: string, normalizedPrefix: string): boolean => {
  if (normalizedPrefix.endsWith('/')) return normalizedPath.startsWith(normalizedPrefix);
  return normalizedPath === normalizedPrefix || normalizedPath.startsWith(`${normalizedPrefix}/`);
};

/**
 * Checks one rule `paths` entry; returns the problem, or undefined when it normalizes cleanly.
 * A prefix may not hold an encoded slash: the segments it matches must be unambiguous.
 */
export const validateRulePath = (p: string): string | undefined => {
  if (p.includes('?')) return `"${p}": a rule path cannot hold a query`;
  const normalized = normalizePath(p);
  if (!normalized.ok) return normalized.error;
  if (/%2F/i.test(normalized.path)) return `"${p}": a rule path cannot hold an encoded slash (%2F); write the segments with "/"`;
  return undefined;
};

/**
 * For a normalized path no prefix matched: would one match if its encoded slashes were real
 * ones? Then the client hid the rule's segments behind %2F, and the denial is ambiguous-path.
 */
export const decodeEncodedSlashes = (normalizedPath: string): string => normalizedPath.replace(/%2F/g, '/');
