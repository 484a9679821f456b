import type { Destination } from '../flow/destination.js';
import { parseHost } from '../flow/host.js';
import type { PeekResult } from '../net/peek-client-hello.js';
import { deny, type DenyDecision } from '../policy/decision.js';
import type { RefusalAlert } from './refusal.js';

/** What the ClientHello of a spliced CONNECT tunnel says about where it really goes. */
export type HelloCheck =
  | { readonly ok: true; readonly note?: string }
  | { readonly ok: false; readonly decision: DenyDecision; readonly alert: RefusalAlert | undefined };

/**
 * Encrypted Client Hello: the SNI a spliced tunnel shows is then only the provider's public name,
 * and the name the client really asks for is encrypted; behind a shared front it can be any
 * tenant. Denied unless a matching rule says `ech: allow`.
 */
export const checkEch = (hello: PeekResult, allowEch: boolean, rule: string | undefined): HelloCheck => {
  if (hello.status !== 'ok' || !hello.ech || allowEch) return { ok: true };
  const detail = `the ClientHello carries Encrypted Client Hello, so the SNI "${hello.sni ?? ''}" may be only a public name; set ech: allow on the rule to accept it`;
  return { ok: false, decision: deny('ech-present', rule, detail), alert: 'access_denied' };
};

/**
 * Peek-and-splice: the name in the ClientHello must be the CONNECT host, so a tunnel opened for
 * an allowed name cannot carry a TLS session for another one, nor one whose real name is
 * encrypted (ECH). `rule` is the rule that allowed the tunnel (named in the denial).
 */
export const checkTunnelHello = (
  hello: PeekResult, destination: Destination, missingSni: 'deny' | 'allow', rule: string | undefined, allowEch = false,
): HelloCheck => {
  if (hello.status === 'ok' && hello.sni !== undefined) {
    const named = parseHost(hello.sni);
    if (named.ok && named.value.kind === 'name' && named.value.host === destination.host.host) return checkEch(hello, allowEch, rule);
    const detail = `TLS SNI "${hello.sni}" does not match the CONNECT host ${destination.host.host}`;
    return { ok: false, decision: deny('sni-mismatch', rule, detail), alert: 'unrecognized_name' };
  }
  if (hello.status === 'invalid') {
    return { ok: false, decision: deny('sni-mismatch', rule, `malformed TLS ClientHello: ${hello.error}`), alert: 'unrecognized_name' };
  }
  // TLS to an IP address carries no SNI (RFC 6066 forbids IP literals there): nothing to compare.
  if (hello.status === 'ok' && destination.host.kind === 'ip') return checkEch(hello, allowEch, rule);
  const what = hello.status === 'ok' ? 'the ClientHello has no SNI'
    : hello.status === 'not-tls' ? 'the client did not start TLS'
    : hello.status === 'timeout' ? 'no ClientHello arrived in time' : 'the client closed the tunnel';
  const detail = `${what}; missing_sni is ${missingSni}`;
  if (missingSni === 'allow' || hello.status === 'closed') {
    const ech = checkEch(hello, allowEch, rule);
    return ech.ok ? { ok: true, note: detail } : ech;
  }
  return { ok: false, decision: deny('sni-missing', rule, detail), alert: hello.status === 'ok' ? 'access_denied' : undefined };
};
