import { isPortcullisError, PortcullisError } from '../errors.js';
import { denyResponse, errorResponse, type SyntheticResponse } from '../http/deny-response.js';
import { upstreamFailure } from '../http/proxy-status.js';
import { deny, type DenyDecision } from '../policy/decision.js';
import type { AnyFlow } from './flow.js';

/** The TLS alert a TLS-speaking client gets instead of an HTTP answer. */
export type RefusalAlert = 'access_denied' | 'unrecognized_name';

/**
 * How a client is turned away: an HTTP-speaking client gets `response`; a client that is in the
 * middle of a TLS handshake (transparent TLS, a refused ClientHello) gets `alert`, or a plain
 * close when there is none.
 */
export interface Refusal {
  readonly response: SyntheticResponse;
  readonly alert?: RefusalAlert;
}

/** A policy denial: 403 with the reason; `alert: null` closes a TLS client without an alert. */
export const refuseByPolicy = (target: string, decision: DenyDecision, alert: RefusalAlert | null = 'access_denied'): Refusal =>
  alert === null ? { response: denyResponse(target, decision) } : { response: denyResponse(target, decision), alert };

/** A request Portcullis cannot even ask the policy about: 400 with the reason. */
export const refuseMalformed = (reason: string, detail: string, alert?: RefusalAlert): Refusal =>
  ({ response: errorResponse(400, 'http_request_error', reason, detail), ...(alert ? { alert } : {}) });

/** Any thrown value as a typed error (a bug elsewhere must still end as a 502 with a reason). */
export const asPortcullisError = (error: unknown): PortcullisError =>
  isPortcullisError(error) ? error : new PortcullisError('PCL_ERR_UPSTREAM_FAILED', String((error as Error | undefined)?.message ?? error));

/**
 * The one place an upstream failure (resolving, the address guard, connecting, TLS to the origin,
 * the response) becomes what the flow records and what the client is told. A destination that
 * resolves only to blocked addresses is a policy denial (`address-blocked`, 403, whatever the
 * dry-run setting: there is nothing that could be dialed); the rest are 502/504 naming the cause.
 * Returns undefined when the client has gone and nobody is left to tell.
 */
export const refuseFailure = (flow: AnyFlow, target: string, error: unknown): Refusal | undefined => {
  const failure = asPortcullisError(error);
  flow.failed(failure);
  if (failure.code === 'PCL_ERR_CLIENT_ABORTED') return undefined;
  if (failure.code === 'PCL_ERR_ADDON_DENIED') {
    const byAddon = (failure.cause as DenyDecision | undefined) ?? deny('addon-denied', flow.decidingRule, failure.message);
    flow.decided(byAddon);
    return refuseByPolicy(target, byAddon);
  }
  if (failure.code === 'PCL_ERR_BODY_TOO_LARGE') {
    const tooLarge = deny('body-too-large', flow.decidingRule, failure.message);
    flow.decided(tooLarge);
    return refuseByPolicy(target, tooLarge);
  }
  if (failure.code === 'PCL_ERR_ADDRESS_BLOCKED') {
    const blocked = deny('address-blocked', flow.decidingRule, failure.message);
    flow.decided(blocked);
    return refuseByPolicy(target, blocked);
  }
  const { status, type } = upstreamFailure(failure.code);
  return { response: errorResponse(status, type, failure.code, failure.message) };
};
