import type { CompiledPolicy } from '../policy/policy-engine.js';
import type { LoggedRequest } from './logged-request.js';

/**
 * How a policy decides one logged request, the way the proxy does: a tunnel at CONNECT time;
 * a plain request in full; a request seen inside an intercepted tunnel first at the tunnel
 * (denied there, or spliced, so every request inside passes unseen), then in full. The
 * decisions come from the compiled policy itself (compilePolicy), never from a copy of its logic.
 */
export type Judgement =
  | { readonly kind: 'allow'; readonly rule: string; readonly stage: 'tunnel' | 'request'; readonly intercept: boolean }
  | { readonly kind: 'deny'; readonly reason: string; readonly rule?: string; readonly wouldAllow?: string; readonly stage: 'tunnel' | 'request' }
  /** The rules would allow it, but what decided it before is not a rule (address guard, SNI or Host checks, ...). */
  | { readonly kind: 'outside'; readonly reason: string };

/** Reasons decided by more than the rules: a policy can only add a denial to them, never lift one. */
export const OUTSIDE_THE_RULES = new Set([
  'address-blocked', 'sni-mismatch', 'sni-missing', 'host-mismatch', 'userinfo-in-url', 'invalid-destination',
  'credentials-missing', 'credentials-invalid', 'headers-too-large', 'connection-limit', 'malformed-request',
  'not-a-proxy-request', 'request-timeout', 'ca-download', 'internal-error', 'unknown', 'credential-misdirected',
  'addon-denied', 'addon-failed', 'body-too-large', 'rate-limited', 'upgrade-not-allowed', 'upgrade-refused',
  'ech-present', 'doh-blocked', 'dns-exfiltration-suspected', 'dns-name-not-allowed',
]);

const judgeByRules = (policy: CompiledPolicy, request: LoggedRequest): Judgement => {
  const target = request.target!;
  const facts = {
    destination: target.destination,
    clientIp: request.client,
    transport: target.transport,
    ...(request.user !== undefined ? { user: request.user } : {}),
  };
  if (request.kind === 'tunnel' || target.intercepted) {
    const tunnel = policy.decideConnection({ ...facts, transport: 'tls' });
    if (tunnel.verdict === 'deny') {
      return { kind: 'deny', reason: tunnel.reason, stage: 'tunnel', ...(tunnel.rule !== undefined ? { rule: tunnel.rule } : {}), ...(tunnel.wouldAllow !== undefined ? { wouldAllow: tunnel.wouldAllow } : {}) };
    }
    if (request.kind === 'tunnel' || !tunnel.intercept) return { kind: 'allow', rule: tunnel.rule, stage: 'tunnel', intercept: tunnel.intercept };
  }
  const decision = policy.decideRequest({ ...facts, method: request.method, pathAndQuery: target.pathAndQuery ?? '/' });
  if (decision.verdict === 'allow') return { kind: 'allow', rule: decision.rule, stage: 'request', intercept: false };
  return { kind: 'deny', reason: decision.reason, stage: 'request', ...(decision.rule !== undefined ? { rule: decision.rule } : {}), ...(decision.wouldAllow !== undefined ? { wouldAllow: decision.wouldAllow } : {}) };
};

export const judgeLogged = (policy: CompiledPolicy, request: LoggedRequest): Judgement => {
  if (request.target === undefined) return { kind: 'outside', reason: request.targetProblem?.reason ?? request.reason ?? 'invalid-destination' };
  const outside = request.reason !== undefined && OUTSIDE_THE_RULES.has(request.reason);
  // Passed without the rules being asked (a CA download from the proxy itself): no policy changes that.
  if (outside && request.verdict === 'allow' && !request.wouldDeny) return { kind: 'outside', reason: request.reason as string };
  const judgement = judgeByRules(policy, request);
  if (judgement.kind === 'allow' && outside) {
    return { kind: 'outside', reason: request.reason };
  }
  return judgement;
};
