import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

/**
 * One host name or IP literal in canonical form: lowercase, no trailing dot, IDN as punycode,
 * IPv4 in dotted-quad whatever notation it arrived in (decimal, octal, hex, short forms),
 * IPv6 compressed without brackets, IPv4-mapped IPv6 unwrapped to IPv4.
 */
export type CanonicalHost =
  | { readonly kind: 'name'; readonly host: string }
  | { readonly kind: 'ip'; readonly host: string; readonly family: 4 | 6 };

export type HostParseResult = { ok: true; value: CanonicalHost } | { ok: false; error: string };

const NAME_CHARS = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

const fail = (error: string): HostParseResult => ({ ok: false, error });

/** Canonicalizes an address parsed by ipaddr.js, unwrapping IPv4-mapped IPv6. */
export const canonicalIp = (address: ipaddr.IPv4 | ipaddr.IPv6): CanonicalHost => {
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return { kind: 'ip', host: (address as ipaddr.IPv6).toIPv4Address().toString(), family: 4 };
  }
  return address.kind() === 'ipv4'
    ? { kind: 'ip', host: address.toString(), family: 4 }
    : { kind: 'ip', host: address.toString(), family: 6 };
};

/**
 * Parses a host as a client sent it (CONNECT authority host, Host header, URL host, SNI).
 * Uses the WHATWG host parser, the one browsers and curl agree with, so "0x7f.1" and
 * "2130706433" are recognised as 127.0.0.1 rather than passed on to a resolver that would
 * interpret them the same way behind the policy's back.
 */
export const parseHost = (raw: string): HostParseResult => fastCanonicalHost(raw) ?? parseHostThoroughly(raw);

// Text the WHATWG parser would return unchanged: a canonical dotted quad, or lowercase ASCII
// labels of 1-63 characters, none punycode (those get validated), the last one not numeric.
// Everything else takes the thorough path; a property test checks both agree.
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const PLAIN_NAME = /^(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]*[a-z_-][a-z0-9_-]*$/;
const PUNYCODE_LABEL = /(?:^|\.)xn--/;

const fastCanonicalHost = (raw: string): HostParseResult | undefined => {
  if (raw.length > MAX_NAME_LENGTH) return undefined;
  if (CANONICAL_IPV4.test(raw)) return { ok: true, value: { kind: 'ip', host: raw, family: 4 } };
  if (!PLAIN_NAME.test(raw) || PUNYCODE_LABEL.test(raw)) return undefined;
  const lastDot = raw.lastIndexOf('.');
  const last = raw.slice(lastDot + 1);
  if (last.length > MAX_LABEL_LENGTH || /^0x[0-9a-f]*$/.test(last)) return undefined;
  return { ok: true, value: { kind: 'name', host: raw } };
};

/** The full parse, through the WHATWG host parser; exported for the property test of the fast path. */
export const parseHostThoroughly = (raw: string): HostParseResult => {
  if (raw.length === 0) return fail('empty host');
  if (raw.length > 1024) return fail('host too long');
  let text = raw;
  const bracketed = text.startsWith('[') && text.endsWith(']');
  if (bracketed) text = text.slice(1, -1);
  if (text.includes(':')) {
    // IPv6 literal (with or without brackets). Zone ids are never valid destinations.
    if (text.includes('%')) return fail(`IPv6 zone identifiers are not allowed: ${raw}`);
    if (!/^[0-9a-fA-F:.]+$/.test(text) || !ipaddr.IPv6.isValid(text)) return fail(`invalid IPv6 address: ${raw}`);
    // ipaddr.js alone would read "::1.2.3.4" as ::ffff:1.2.3.4 and accept "0177"/"0x7f" octets in the
    // embedded IPv4; the WHATWG parser rejects those and serializes to pure hex, the address clients mean.
    let serialized: string;
    try {
      serialized = new URL(`http://[${text}]/`).hostname;
    } catch {
      return fail(`invalid IPv6 address: ${raw}`);
    }
    return { ok: true, value: canonicalIp(ipaddr.IPv6.parse(serialized.slice(1, -1))) };
  }
  if (bracketed) return fail(`invalid bracketed host: ${raw}`);
  if (/[\s\x00-\x1f\x7f/\\?#@%]/.test(text)) return fail(`invalid characters in host: ${JSON.stringify(raw)}`);
  let hostname: string;
  try {
    hostname = new URL(`http://${text}/`).hostname;
  } catch {
    return fail(`invalid host: ${JSON.stringify(raw)}`);
  }
  if (hostname.startsWith('[')) {
    return { ok: true, value: canonicalIp(ipaddr.IPv6.parse(hostname.slice(1, -1))) };
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(hostname)) {
    return { ok: true, value: { kind: 'ip', host: hostname, family: 4 } };
  }
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1);
  // A trailing dot on a numeric-looking name ("1.2.3.4.") is handled by WHATWG already;
  // anything still numeric-looking in the last label is an IPv4 the parser refused.
  if (hostname.length === 0) return fail('empty host');
  if (hostname.length > MAX_NAME_LENGTH) return fail(`host name longer than ${MAX_NAME_LENGTH} characters`);
  if (!NAME_CHARS.test(hostname)) return fail(`invalid host name: ${JSON.stringify(raw)}`);
  const labels = hostname.split('.');
  if (labels.some((label) => label.length > MAX_LABEL_LENGTH)) return fail(`host label longer than ${MAX_LABEL_LENGTH} characters`);
  const last = labels[labels.length - 1] ?? '';
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(last)) return fail(`ambiguous numeric host: ${JSON.stringify(raw)}`);
  if (domainToASCII(hostname) !== hostname) return fail(`invalid host name: ${JSON.stringify(raw)}`);
  return { ok: true, value: { kind: 'name', host: hostname } };
};
