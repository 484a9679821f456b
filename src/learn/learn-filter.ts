import { normalizePath } from '../policy/path-normalizer.js';
import { createAddressGuard } from '../policy/address-guard.js';
import type { LoggedRequest } from './logged-request.js';

/**
 * What `learn` does with one log line:
 * - learn: a need to propose a rule for;
 * - parent: an intercepted tunnel, spoken for by the requests decrypted inside it;
 * - held: a denial by the policy in force, or a dry-run would-deny outside an existing rule's
 *   paths, methods, ports or clients. Learning from it would widen what someone restricted on
 *   purpose, and it is exactly what a probe looks like: listed for review, proposed only with
 *   --include-denied;
 * - excluded: never proposed, whatever the options: bypass attempts (ambiguous paths, host or
 *   SNI mismatches, credentials in URLs, ...), refusals outside the rules, blocked addresses,
 *   names that do not resolve.
 */
export type Disposition =
  | { readonly kind: 'learn' }
  | { readonly kind: 'parent' }
  | { readonly kind: 'held'; readonly why: string }
  | { readonly kind: 'excluded'; readonly why: string };

/** Reasons that never make a rule: bypass attempts and refusals that are not about the rules. */
export const NEVER_LEARNED = new Set([
  'ambiguous-path', 'host-mismatch', 'sni-mismatch', 'sni-missing', 'userinfo-in-url', 'invalid-destination',
  'credential-misdirected', 'address-blocked', 'ip-literal-not-allowed', 'ech-present', 'doh-blocked',
  'dns-exfiltration-suspected', 'dns-name-not-allowed', 'addon-denied', 'addon-failed', 'upgrade-not-allowed',
  'body-too-large', 'rate-limited', 'credentials-missing', 'credentials-invalid', 'headers-too-large',
  'connection-limit', 'malformed-request', 'not-a-proxy-request', 'request-timeout', 'internal-error',
  'ca-download', 'unknown', 'upgrade-refused',
]);

/** Denials a new or wider allow rule would fix. */
const POLICY_GAPS = new Set(['no-rule-matched', 'port-not-allowed', 'client-not-allowed', 'method-not-allowed', 'path-not-allowed']);

/** Would-denies of a dry run that reach beyond an existing rule's restriction. */
const NARROWED = new Set(['port-not-allowed', 'client-not-allowed', 'method-not-allowed', 'path-not-allowed']);

const guard = createAddressGuard([]);

export interface FilterOptions {
  /** Also learn from denials by the policy in force and from would-denies outside an existing rule's restriction. */
  readonly includeDenied?: boolean;
}

export const classifyForLearning = (request: LoggedRequest, options: FilterOptions = {}): Disposition => {
  const { target, reason } = request;
  if (reason !== undefined && NEVER_LEARNED.has(reason)) return { kind: 'excluded', why: reason };
  if (target === undefined) return { kind: 'excluded', why: request.targetProblem?.reason ?? 'invalid-destination' };
  const host = target.destination.host;
  if (host.kind === 'ip' && !guard.check(host.host).allowed) return { kind: 'excluded', why: 'address-blocked' };
  if (request.error === 'PCL_ERR_DNS_FAILED') return { kind: 'excluded', why: 'dns-failed' };
  if (request.error === 'PCL_ERR_ADDRESS_BLOCKED') return { kind: 'excluded', why: 'address-blocked' };
  if (target.pathAndQuery !== undefined && !normalizePath(target.pathAndQuery).ok) return { kind: 'excluded', why: 'ambiguous-path' };
  if (request.verdict === 'deny') {
    // Squid logs no reason: a denial there is a policy gap as far as anyone can tell.
    if (reason !== undefined && !POLICY_GAPS.has(reason)) return { kind: 'excluded', why: reason };
    if (options.includeDenied !== true) return { kind: 'held', why: `denied (${reason ?? 'reason not logged'})` };
    return { kind: 'learn' };
  }
  if (request.wouldDeny && reason !== undefined) {
    if (!POLICY_GAPS.has(reason)) return { kind: 'excluded', why: reason };
    if (NARROWED.has(reason) && options.includeDenied !== true) {
      return { kind: 'held', why: `would deny: ${reason}${request.rule !== undefined ? ` (rule ${request.rule})` : ''}` };
    }
  } else if (reason !== undefined && reason !== 'rule-matched') {
    return { kind: 'excluded', why: reason };
  }
  if (request.kind === 'tunnel' && request.tunnelMode === 'intercept') return { kind: 'parent' };
  return { kind: 'learn' };
};
