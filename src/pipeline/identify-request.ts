import { formatHostHeader, parseAbsoluteTarget, parseAuthority, type Destination } from '../flow/destination.js';
import { CA_DOWNLOAD_HOST } from '../http/ca-download.js';
import { countHeader, headerValues } from '../http/raw-headers.js';
import type { OriginalDestination } from '../flow/original-destination.js';
import { deny, type DenyDecision } from '../policy/decision.js';
import type { TunnelFlow } from './flow.js';
import { refuseByPolicy, refuseMalformed, type Refusal } from './refusal.js';

/** A request head as any listener received it (HTTP/1.x or HTTP/2). */
export interface RequestHead {
  readonly method: string;
  /** The request-target as sent. */
  readonly target: string;
  /** [name, value, name, value, ...] as sent (HTTP/2 pseudo-headers included). */
  readonly rawHeaders: readonly string[];
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  /** The proxy's own address and port on this connection (a Host naming the proxy is harmless). */
  readonly local: { readonly address: string | undefined; readonly port: number | undefined };
}

/** The tunnel a request arrived through: decrypted TLS (https), or plaintext HTTP inside a CONNECT (http). */
export interface TunnelContext {
  readonly flow: TunnelFlow;
  readonly destination: Destination;
  readonly scheme: 'http' | 'https';
}

/** Where a request came from: the only thing that differs between listeners. */
export type RequestSource =
  | { readonly kind: 'explicit' }
  | { readonly kind: 'transparent-http'; readonly original: OriginalDestination | undefined }
  | { readonly kind: 'tunnel'; readonly tunnel: TunnelContext };

/** Where a request goes, or why it goes nowhere. */
export type Identification =
  | {
    readonly kind: 'target';
    readonly destination: Destination;
    readonly scheme: 'http' | 'https';
    readonly pathAndQuery: string;
    /** The full URL, for logs and 403 bodies. */
    readonly url: string;
    /** A denial found while identifying (a Host naming another host): enforced, or let through by a dry run. */
    readonly mismatch?: DenyDecision;
  }
  | { readonly kind: 'local'; readonly answer: 'help' | 'ca'; readonly pathAndQuery: string }
  | { readonly kind: 'refused'; readonly refusal: Refusal; readonly reason: string; readonly detail: string };

/** "https://host[:port]" or "http://host[:port]". */
export const originOf = (scheme: 'http' | 'https', destination: Destination): string =>
  `${scheme}://${formatHostHeader(destination, scheme === 'https' ? 443 : 80)}`;

export const sameDestination = (a: Destination, b: Destination): boolean => a.host.host === b.host.host && a.port === b.port;

const refused = (refusal: Refusal, reason: string, detail: string): Identification => ({ kind: 'refused', refusal, reason, detail });

/** A request target or Host the proxy cannot parse: 400; credentials in it: 403. */
const unparsable = (target: string, failure: { reason: 'invalid-destination' | 'userinfo-in-url'; error: string }, detail = failure.error): Identification =>
  failure.reason === 'userinfo-in-url'
    ? refused(refuseByPolicy(target, deny(failure.reason, undefined, failure.error)), failure.reason, failure.error)
    : refused(refuseMalformed(failure.reason, detail), failure.reason, detail);

export const identifyRequest = (head: RequestHead, source: RequestSource): Identification => {
  if (source.kind === 'explicit') return identifyExplicit(head);
  if (source.kind === 'transparent-http') return identifyTransparent(head, source.original);
  return identifyInTunnel(head, source.tunnel);
};

/**
 * RFC 9112 says a proxy replaces the Host of an absolute-form request with the URL's authority,
 * and Portcullis does. A Host naming a third party is still refused: no legitimate client sends
 * one, and an origin behind a shared address might route by it. A Host naming the proxy itself
 * (what some HTTP libraries send) is harmless and accepted.
 */
const hostHeaderAgrees = (value: string, destination: Destination, defaultPort: number, head: RequestHead): boolean => {
  // The usual case, a Host already in canonical form, needs no parsing: canonical text parses to itself.
  if (value === formatHostHeader(destination, defaultPort)) return true;
  const fromHeader = parseAuthority(value, defaultPort);
  if (!fromHeader.ok) return false;
  if (sameDestination(fromHeader.value, destination)) return true;
  const { address, port } = head.local;
  const local = parseAuthority(`${address?.includes(':') ? `[${address}]` : address}:${port}`);
  return local.ok && sameDestination(fromHeader.value, local.value);
};

/** The explicit listener: absolute-form requests; origin-form ones are for the proxy itself. */
const identifyExplicit = (head: RequestHead): Identification => {
  const { target } = head;
  if (target.startsWith('/') || target === '*') {
    return { kind: 'local', answer: /^\/ca\.(pem|crt|der|cer)(\?|$)/.test(target) ? 'ca' : 'help', pathAndQuery: target };
  }
  const parsed = parseAbsoluteTarget(target);
  if (!parsed.ok) return unparsable(target, parsed);
  const { destination, scheme, pathAndQuery } = parsed.value;
  if (destination.host.host === CA_DOWNLOAD_HOST) return { kind: 'local', answer: 'ca', pathAndQuery };
  const identified = { kind: 'target', destination, scheme, pathAndQuery, url: target } as const;
  const defaultPort = scheme === 'https' ? 443 : 80;
  const host = countHeader(head.rawHeaders, 'host');
  if (host.count > 1) return { ...identified, mismatch: deny('host-mismatch', undefined, 'more than one Host header') };
  if (host.value !== undefined && !hostHeaderAgrees(host.value, destination, defaultPort, head)) {
    const detail = `Host header "${host.value}" does not name the URL's host ${formatHostHeader(destination, defaultPort)}`;
    return { ...identified, mismatch: deny('host-mismatch', undefined, detail) };
  }
  return identified;
};

/**
 * A transparent-http listener: the client thinks it talks to the origin, so the destination is
 * the Host header: its port, else the port the client dialed (original destination), else 80.
 * An absolute-form target is accepted when Host agrees with it.
 */
const identifyTransparent = (head: RequestHead, original: OriginalDestination | undefined): Identification => {
  const { target } = head;
  const host = countHeader(head.rawHeaders, 'host');
  if (host.count > 1) return refused(refuseMalformed('host-mismatch', 'more than one Host header'), 'host-mismatch', 'more than one Host header');
  let destination: Destination;
  let pathAndQuery: string;
  if (target.startsWith('/')) {
    if (host.value === undefined || host.value === '') {
      const detail = 'no Host header: a transparent listener takes the destination from Host';
      return refused(refuseMalformed('invalid-destination', detail), 'invalid-destination', detail);
    }
    const parsed = parseAuthority(host.value, original?.port ?? 80);
    if (!parsed.ok) return unparsable(host.value, parsed, `Host header "${host.value}": ${parsed.error}`);
    destination = parsed.value;
    pathAndQuery = target;
  } else {
    const absolute = parseAbsoluteTarget(target);
    if (!absolute.ok || absolute.value.scheme !== 'http') {
      const detail = absolute.ok ? 'a transparent HTTP listener does not fetch https:// URLs' : absolute.error;
      return refused(refuseMalformed('invalid-destination', detail), 'invalid-destination', detail);
    }
    destination = absolute.value.destination;
    pathAndQuery = absolute.value.pathAndQuery;
    if (host.value !== undefined) {
      const named = parseAuthority(host.value, 80);
      if (!named.ok || !sameDestination(named.value, destination)) {
        const detail = `Host header "${host.value}" does not name the URL's host ${formatHostHeader(destination, 80)}`;
        return refused(refuseMalformed('host-mismatch', detail), 'host-mismatch', detail);
      }
    }
  }
  if (destination.host.host === CA_DOWNLOAD_HOST) return { kind: 'local', answer: 'ca', pathAndQuery };
  return { kind: 'target', destination, scheme: 'http', pathAndQuery, url: `${originOf('http', destination)}${pathAndQuery}` };
};

/**
 * A request inside a tunnel. The destination is the tunnel's: the Host header (or an absolute
 * URL, or HTTP/2's :authority) must name the same host and port, so a client cannot open a
 * tunnel to an allowed host and then ask it for another one (domain fronting). An HTTP/1.0
 * request without Host is for the tunnel's host: HTTP/1.0 had no Host.
 */
const identifyInTunnel = (head: RequestHead, tunnel: TunnelContext): Identification => {
  const { destination, scheme } = tunnel;
  const origin = originOf(scheme, destination);
  const defaultPort = scheme === 'https' ? 443 : 80;
  const { target } = head;
  const onTunnel = (pathAndQuery: string, mismatch?: DenyDecision): Identification =>
    ({ kind: 'target', destination, scheme, pathAndQuery, url: `${origin}${pathAndQuery}`, ...(mismatch ? { mismatch } : {}) });
  const mismatch = (detail: string, pathAndQuery: string, url = `${origin}${pathAndQuery}`): Identification =>
    ({ kind: 'target', destination, scheme, pathAndQuery, url, mismatch: deny('host-mismatch', undefined, detail) });
  let pathAndQuery = target;
  if (!target.startsWith('/')) {
    const absolute = parseAbsoluteTarget(target);
    if (!absolute.ok || absolute.value.scheme !== scheme || !sameDestination(absolute.value.destination, destination)) {
      const detail = `request target "${target}" is not on the tunnel's host ${formatHostHeader(destination, defaultPort)}`;
      return mismatch(detail, absolute.ok ? absolute.value.pathAndQuery : '/', origin);
    }
    pathAndQuery = absolute.value.pathAndQuery;
  }
  // HTTP/1.1 names the host in Host; HTTP/2 in :authority, and a Host alongside must agree.
  const names = [...headerValues(head.rawHeaders, 'host'), ...headerValues(head.rawHeaders, ':authority')];
  const http1 = head.httpVersionMajor < 2;
  if (names.length === 0 && http1 && head.httpVersionMinor === 0) return onTunnel(pathAndQuery);
  if (names.length === 0 || (http1 && names.length !== 1)) {
    return mismatch(names.length === 0 ? 'request names no host (Host or :authority)' : 'more than one Host header', pathAndQuery);
  }
  const wrong = names.find((value) => {
    const named = parseAuthority(value, defaultPort);
    return !named.ok || !sameDestination(named.value, destination);
  });
  if (wrong !== undefined) {
    return mismatch(`request host "${wrong}" is not the tunnel's host ${formatHostHeader(destination, defaultPort)}`, pathAndQuery);
  }
  return onTunnel(pathAndQuery);
};
