import { parseAuthority, type Destination } from '../flow/destination.js';
import { parseHost } from '../flow/host.js';
import type { OriginalDestination } from '../flow/original-destination.js';
import type { PeekResult } from '../net/peek-client-hello.js';
import { deny } from '../policy/decision.js';
import { refuseByPolicy, refuseMalformed, type Refusal } from './refusal.js';

/** Where a tunnel goes, or why it goes nowhere. */
export type TunnelIdentification =
  | {
    readonly ok: true;
    readonly destination: Destination;
    /** Transparent TLS without SNI, routed by the address the client dialed (`transparent.sni_missing`). */
    readonly byOriginalDestination: boolean;
  }
  | {
    readonly ok: false;
    readonly reason: string;
    readonly detail: string;
    readonly refusal: Refusal;
    /** The client left before saying where it wanted to go. */
    readonly aborted?: boolean;
  };

const refused = (reason: string, detail: string, refusal: Refusal, aborted = false): TunnelIdentification =>
  ({ ok: false, reason, detail, refusal, ...(aborted ? { aborted } : {}) });

/** `CONNECT host:port`: the authority is the destination; a port is required. */
export const identifyConnect = (authority: string): TunnelIdentification => {
  const parsed = parseAuthority(authority);
  if (parsed.ok) return { ok: true, destination: parsed.value, byOriginalDestination: false };
  const refusal = parsed.reason === 'userinfo-in-url'
    ? refuseByPolicy(authority, deny(parsed.reason, undefined, parsed.error))
    : refuseMalformed(parsed.reason, parsed.error);
  return refused(parsed.reason, parsed.error, refusal);
};

/**
 * A transparent TLS connection: the SNI host, on the port the client dialed (443 when unknown).
 * Without SNI, the original destination address when the config allows routing by it
 * (`transparent.sni_missing: original-destination`); the policy then judges that IP, so only an
 * IP/CIDR rule can allow it.
 */
export const identifyBySni = (
  hello: PeekResult, original: OriginalDestination | undefined, sniMissing: 'deny' | 'original-destination',
): TunnelIdentification => {
  const port = original?.port ?? 443;
  const withAlert = (reason: string, detail: string): TunnelIdentification => refused(reason, detail, refuseMalformed(reason, detail, 'access_denied'));
  const closing = (detail: string, aborted = false): TunnelIdentification => refused('sni-missing', detail, refuseMalformed('sni-missing', detail), aborted);
  if (hello.status === 'ok' && hello.sni !== undefined) {
    const named = parseHost(hello.sni);
    if (!named.ok) return withAlert('invalid-destination', `TLS SNI "${hello.sni}": ${named.error}`);
    return { ok: true, destination: { host: named.value, port }, byOriginalDestination: false };
  }
  if (hello.status === 'invalid') return withAlert('invalid-destination', `malformed TLS ClientHello: ${hello.error}`);
  if (hello.status === 'closed') return closing('the client closed the connection before a ClientHello', true);
  if (hello.status === 'not-tls') return closing('the client did not start TLS');
  if (hello.status !== 'ok') return closing('no ClientHello arrived in time');
  if (sniMissing === 'deny') return withAlert('sni-missing', 'the ClientHello has no SNI; transparent.sni_missing is deny');
  if (original === undefined) {
    return withAlert('sni-missing', 'the ClientHello has no SNI and the original destination is unknown, so it cannot be routed by it');
  }
  const host = parseHost(original.family === 6 ? `[${original.address}]` : original.address);
  if (!host.ok) return withAlert('invalid-destination', host.error);
  return { ok: true, destination: { host: host.value, port: original.port }, byOriginalDestination: true };
};
