import { parseHost, type CanonicalHost } from './host.js';

/** Where a client wants to go, normalized once at the edge; nothing downstream re-parses it. */
export interface Destination {
  /** Canonical host (see CanonicalHost): lowercase name without trailing dot, or IP literal. */
  readonly host: CanonicalHost;
  readonly port: number;
}

export type DestinationResult =
  | { ok: true; value: Destination }
  | { ok: false; reason: 'invalid-destination' | 'userinfo-in-url'; error: string };

const invalid = (error: string): DestinationResult => ({ ok: false, reason: 'invalid-destination', error });

/** Control and non-ASCII characters escaped, so an error message never carries raw bytes to a log or a terminal. */
const printable = (text: string): string =>
  text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).slice(0, 200);

/**
 * A port exactly as RFC 3986 writes it for an origin: 1 to 65535 in decimal digits, no sign, no
 * space, no leading zero ("0443" is what some parsers read as octal and others as 443).
 */
const parsePort = (text: string): number | undefined => {
  if (!/^[1-9]\d{0,4}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
};

const describePort = (text: string): string => {
  if (text.length === 0) return 'empty port';
  if (/^[+-]/.test(text)) return 'a port cannot carry a sign';
  if (/\s/.test(text)) return 'a port cannot hold spaces';
  if (/^0\d/.test(text)) return 'a port cannot start with 0';
  if (/^\d+$/.test(text)) return 'port out of range 1-65535';
  return 'a port is decimal digits only';
};

/**
 * Splits "host:port", "[v6]:port" or (with a default port) a bare host, as a CONNECT target,
 * the authority of an absolute URL or a Host header carries it. Only printable ASCII is
 * accepted: a request target or Host is ASCII on the wire, and the URL host parser would
 * otherwise quietly drop or map characters (a soft hyphen, a full-width dot) into another name.
 */
export const parseAuthority = (authority: string, defaultPort?: number): DestinationResult => {
  if (authority.includes('@')) return { ok: false, reason: 'userinfo-in-url', error: 'credentials in the authority are refused' };
  if (/[^\x21-\x7e]/.test(authority)) return invalid(`characters outside printable ASCII in "${printable(authority)}" (write an international name in punycode, xn--...)`);
  let hostText: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return invalid(`unterminated IPv6 literal in "${authority}"`);
    hostText = authority.slice(0, close + 1);
    const rest = authority.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) return invalid(`unexpected text after IPv6 literal in "${authority}"`);
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      hostText = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
      if (hostText.includes(':')) return invalid(`IPv6 literals must be bracketed: "${authority}"`);
    } else {
      hostText = authority;
    }
  }
  let port: number | undefined;
  if (portText === undefined || portText === '') {
    if (portText === '' || defaultPort === undefined) return invalid(`missing port in "${authority}"`);
    port = defaultPort;
  } else {
    port = parsePort(portText);
    if (port === undefined) return invalid(`invalid port in "${authority}": ${describePort(portText)}`);
  }
  const host = parseHost(hostText);
  if (!host.ok) return invalid(host.error);
  return { ok: true, value: { host: host.value, port } };
};

export interface AbsoluteTarget {
  readonly destination: Destination;
  readonly scheme: 'http' | 'https';
  /** Path and query exactly as the client sent them (origin-form), never re-encoded. */
  readonly pathAndQuery: string;
}

export type AbsoluteTargetResult =
  | { ok: true; value: AbsoluteTarget }
  | { ok: false; reason: 'invalid-destination' | 'userinfo-in-url'; error: string };

const ABSOLUTE_FORM = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)$/;

/**
 * Parses an absolute-form request target ("http://host:port/path?q"). The path is kept
 * byte-for-byte as sent so that what the policy judges is what the origin receives.
 */
export const parseAbsoluteTarget = (target: string): AbsoluteTargetResult => {
  const match = ABSOLUTE_FORM.exec(target);
  if (!match) return { ok: false, reason: 'invalid-destination', error: 'request target is not an absolute URL' };
  const scheme = (match[1] ?? '').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    return { ok: false, reason: 'invalid-destination', error: `unsupported scheme "${scheme}"` };
  }
  const authority = match[2] ?? '';
  if (authority.length === 0) return { ok: false, reason: 'invalid-destination', error: 'URL has no host' };
  const destination = parseAuthority(authority, scheme === 'https' ? 443 : 80);
  if (!destination.ok) return destination;
  const rest = match[3] ?? '';
  const pathAndQuery = rest.length === 0 ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  return { ok: true, value: { destination: destination.value, scheme, pathAndQuery } };
};

/** "host:port" as it appears in logs and CONNECT lines; IPv6 bracketed. */
export const formatAuthority = (destination: Destination): string =>
  `${destination.host.kind === 'ip' && destination.host.family === 6 ? `[${destination.host.host}]` : destination.host.host}:${destination.port}`;

/** Host header value for a destination, omitting the scheme's default port. */
export const formatHostHeader = (destination: Destination, defaultPort: number): string => {
  const host = destination.host.kind === 'ip' && destination.host.family === 6 ? `[${destination.host.host}]` : destination.host.host;
  return destination.port === defaultPort ? host : `${host}:${destination.port}`;
};
