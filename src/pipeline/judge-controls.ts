import { parseHost } from '../flow/host.js';
import { headerValues } from '../http/raw-headers.js';
import { deny, type Decision, type DenyDecision } from '../policy/decision.js';
import type { PipelineContext } from './context.js';
import { enforce } from './decide.js';
import type { HttpFlow } from './flow.js';
import type { RequestHead, RequestSource } from './identify-request.js';
import type { Refusal } from './refusal.js';
import type { RuleControls } from './request-controls.js';

export interface ControlsOutcome {
  readonly controls: RuleControls;
  /** The rule's credentials go into this request (it is intercepted, and its names agree). */
  readonly inject: boolean;
  readonly refusal?: Refusal;
}

/**
 * Credentials are injected only into decrypted requests, where Portcullis itself checked that
 * the CONNECT host, the SNI and the Host/:authority name the same server.
 */
const injectable = (source: RequestSource): boolean => {
  if (source.kind !== 'tunnel' || source.tunnel.scheme !== 'https') return false;
  const { sni } = source.tunnel.flow;
  if (sni === undefined) return true;
  const named = parseHost(sni);
  return named.ok && named.value.host === source.tunnel.destination.host.host;
};

/**
 * What the rule that allowed a request asks beyond the policy's yes: a credential stand-in must
 * go only where its rule injects the secret (`credential-misdirected`), a body may not exceed
 * `max_request_bytes` (`body-too-large`, 413), a client may not exceed `rate` (`rate-limited`,
 * 429). Each is a decision like any other: recorded, enforced, or let through by a dry run.
 */
export const judgeControls = (
  context: PipelineContext, flow: HttpFlow, head: RequestHead, source: RequestSource, decision: Decision, target: string,
): ControlsOutcome => {
  const state = context.state();
  const rule = decision.verdict === 'allow' ? decision.rule : undefined;
  const controls = state.controls.forRule(rule);
  const inject = rule !== undefined && controls.inject.length > 0 && injectable(source);
  const refuse = (denial: DenyDecision): ControlsOutcome => {
    const verdict = enforce(context, flow, denial, target);
    return verdict.pass ? { controls, inject } : { controls, inject: false, refusal: verdict.refusal };
  };
  const standIn = findStandIn(state.controls.findStandIn, head);
  if (standIn !== undefined && (standIn.rule !== rule || !inject)) {
    return refuse(deny('credential-misdirected', standIn.rule,
      `the request carries the credential stand-in of rule "${standIn.rule}", which is only injected into its own intercepted requests`));
  }
  if (controls.maxRequestBytes !== undefined) {
    const declared = Number(headerValues(head.rawHeaders, 'content-length')[0] ?? '0');
    if (declared > controls.maxRequestBytes) {
      return refuse(deny('body-too-large', rule, `the body is ${declared} bytes, more than max_request_bytes (${controls.maxRequestBytes})`));
    }
  }
  if (controls.rate !== undefined && rule !== undefined) {
    const wait = context.rateLimiter.take(`${rule}\u0000${flow.client.address}`, controls.rate, context.clock.now());
    if (wait > 0) {
      return refuse({ ...deny('rate-limited', rule, `more than ${controls.rate.count} requests per ${controls.rate.perMs / 1000} s from ${flow.client.address}`), retryAfter: wait });
    }
  }
  return { controls, inject };
};

/** A stand-in anywhere in the request target or a header value. */
const findStandIn = (find: (text: string) => { standIn: string; rule: string } | undefined, head: RequestHead): { standIn: string; rule: string } | undefined => {
  const inTarget = find(head.target);
  if (inTarget) return inTarget;
  for (let i = 1; i < head.rawHeaders.length; i += 2) {
    const found = find(head.rawHeaders[i] as string);
    if (found) return found;
  }
  return undefined;
};
