import type { Destination } from '../flow/destination.js';
import { PortcullisError } from '../errors.js';
import { deny, type Decision, type DenyDecision } from '../policy/decision.js';
import { formatOriginalDestination, type OriginalDestination } from '../flow/original-destination.js';
import type { PipelineContext, MaybePromise } from './context.js';
import type { AddonOutcome } from '../addons/addon-host.js';
import { canonicalIp, type CheckedDestination } from './dialing.js';
import type { AnyFlow, HttpFlow, TunnelFlow } from './flow.js';
import { asPortcullisError, refuseByPolicy, refuseFailure, type Refusal } from './refusal.js';

/**
 * What the decide stage tells the next one: go on (an allow, or a denial a dry run lets pass),
 * with the destination already resolved and checked when the decision needed it; or refuse.
 */
export type Verdict =
  | {
    readonly pass: true;
    readonly decision: Decision;
    readonly checked?: CheckedDestination;
    /**
     * A CONNECT allowed only for plain HTTP (a rule allows the host:port for http, none for TLS):
     * the denial a TLS client gets if the tunnel turns out to carry TLS.
     */
    readonly plainOnly?: DenyDecision;
    /** An addon answered the request itself (requestHeaders). */
    readonly respond?: AddonOutcome['respond'];
  }
  | { readonly pass: false; readonly refusal: Refusal };

/**
 * Transparent listeners: the address the client dialed before the firewall redirect, and
 * whether the name it gave must be shown to resolve to it (`verify_original_destination`).
 */
export interface OriginalDestinationCheck {
  readonly verify: boolean;
  readonly original: OriginalDestination | undefined;
}

interface Question {
  /** The addons' hook for this stage, given the policy's decision (see addons/addon-host.ts). */
  readonly addons?: (decision: Decision) => MaybePromise<AddonOutcome>;
  readonly destination: Destination;
  readonly user: string | undefined;
  /** How the target reads in a 403 body. */
  readonly target: string;
  readonly redirect?: OriginalDestinationCheck;
}

export interface TunnelQuestion extends Question {
  readonly flow: TunnelFlow;
  /** CONNECT: the tunnel may carry plain HTTP (undici's ProxyAgent sends CONNECT host:80), judged request by request. */
  readonly plainHttp?: boolean;
}

export interface RequestQuestion extends Question {
  readonly flow: HttpFlow;
  readonly transport: 'http' | 'tls';
  readonly method: string;
  readonly pathAndQuery: string;
  /** Why the request looks like DNS over HTTPS (dohRequestEvidence), when it does. */
  readonly dohEvidence?: string;
}

/**
 * The one place a decision is applied: recorded on the flow, then enforced, or (dry run) let
 * through as a would-deny. Every listener, tunnel and request ends up here.
 */
export const enforce = (context: PipelineContext, flow: AnyFlow, decision: Decision, target: string): Verdict => {
  const enforced = !context.state().config.dry_run;
  flow.decided(decision, enforced);
  if (decision.verdict === 'deny' && enforced) return { pass: false, refusal: refuseByPolicy(target, decision) };
  return { pass: true, decision };
};

/** The tunnel decision: host, port, client and user, before any byte reaches the destination. */
export const decideTunnel = (context: PipelineContext, question: TunnelQuestion): MaybePromise<Verdict> => {
  const facts = {
    destination: question.destination, clientIp: question.flow.client.address,
    ...(question.user !== undefined ? { user: question.user } : {}),
  };
  const { policy } = context.state();
  const decision = policy.decideConnection({ ...facts, transport: 'tls' });
  if (decision.verdict === 'deny' && question.plainHttp === true) {
    // No rule allows TLS to this host:port, but one allows plain HTTP: open the tunnel; each
    // request in it is judged in full, and TLS in it gets this denial.
    const plain = policy.decideConnection({ ...facts, transport: 'http' });
    if (plain.verdict === 'allow') {
      question.flow.decided(plain);
      return { pass: true, decision: plain, plainOnly: decision };
    }
  }
  return verifyThenEnforce(context, question.flow, decision, question);
};

/** The request decision: everything a tunnel decision looks at, plus method and path. */
export const decideRequest = (context: PipelineContext, question: RequestQuestion): MaybePromise<Verdict> => {
  const decision = context.state().policy.decideRequest({
    destination: question.destination, clientIp: question.flow.client.address, transport: question.transport,
    method: question.method, pathAndQuery: question.pathAndQuery,
    ...(question.user !== undefined ? { user: question.user } : {}),
    ...(question.dohEvidence !== undefined ? { dohEvidence: question.dohEvidence } : {}),
  });
  return verifyThenEnforce(context, question.flow, decision, question);
};

const verifyThenEnforce = (context: PipelineContext, flow: AnyFlow, decision: Decision, question: Question): MaybePromise<Verdict> => {
  if (decision.verdict === 'deny' || question.redirect?.verify !== true) return addonsThenEnforce(context, flow, decision, question, undefined);
  return verifyOriginalDestination(context, question.destination, question.redirect.original, decision.rule).then((outcome) => {
    if (outcome.kind === 'mismatch') return enforce(context, flow, { ...outcome.decision, rule: decision.rule } as DenyDecision, question.target);
    if (outcome.kind === 'blocked') {
      flow.decided(decision);
      return { pass: false, refusal: refuseFailure(flow, question.target, outcome.error) ?? refuseByPolicy(question.target, deny('address-blocked')) };
    }
    return addonsThenEnforce(context, flow, decision, question, outcome.checked);
  });
};

/** The addons' word on the policy's decision (when the question has a hook), then the one enforcement. */
const addonsThenEnforce = (
  context: PipelineContext, flow: AnyFlow, decision: Decision, question: Question, checked: CheckedDestination | undefined,
): MaybePromise<Verdict> => {
  const conclude = (outcome: AddonOutcome): Verdict => {
    const verdict = enforce(context, flow, outcome.decision, question.target);
    if (!verdict.pass) return verdict;
    return { ...verdict, ...(checked ? { checked } : {}), ...(outcome.respond ? { respond: outcome.respond } : {}) };
  };
  const outcome = question.addons === undefined ? { decision } : question.addons(decision);
  return outcome instanceof Promise ? outcome.then(conclude) : conclude(outcome);
};

type Verification =
  | { readonly kind: 'verified'; readonly checked?: CheckedDestination }
  | { readonly kind: 'mismatch'; readonly decision: DenyDecision }
  | { readonly kind: 'blocked'; readonly error: PortcullisError };

/**
 * Squid's host_verify_strict: the name a transparent client gave (Host or SNI) must resolve to
 * the address it dialed, on the port it dialed. The name is resolved once, by the dialer's own
 * check (same resolver, same pins, same address guard), and the flow is then pinned to that one
 * address: what was verified is what is dialed, even if DNS answers differently a moment later.
 * Fails closed: an unknown original destination or a failed lookup denies.
 */
const verifyOriginalDestination = async (
  context: PipelineContext, destination: Destination, original: OriginalDestination | undefined, rule: string | undefined,
): Promise<Verification> => {
  const name = destination.host.host;
  if (original === undefined) {
    return mismatch(`verify_original_destination is on but the original destination of this connection is unknown (not redirected, or SO_ORIGINAL_DST unavailable), so ${name} cannot be verified`);
  }
  const dialed = formatOriginalDestination(original);
  if (destination.port !== original.port) return mismatch(`port ${destination.port} of ${name} is not the port the client dialed (${dialed})`);
  const state = context.state();
  let checked: CheckedDestination;
  try {
    checked = await state.upstream.routeFor(destination, rule).tunnel.check(destination);
  } catch (error) {
    const failure = asPortcullisError(error);
    if (failure.code === 'PCL_ERR_ADDRESS_BLOCKED') return { kind: 'blocked', error: failure };
    return mismatch(`cannot verify ${name} against the original destination ${dialed}: ${failure.message}`);
  }
  // Through a parent proxy nothing is resolved here: verify by name; the parent dials by name.
  const resolved = checked.local ? checked.resolved : await state.resolver.resolve(destination.host).catch(() => []);
  const canonical = resolved.map(canonicalIp);
  if (!canonical.includes(original.address)) {
    return mismatch(`${name} resolves to ${canonical.join(', ') || 'nothing'}, not to the original destination ${original.address} the client dialed`);
  }
  if (!checked.local) return { kind: 'verified' };
  const pinned = checked.allowed.filter((address) => canonicalIp(address) === original.address);
  if (pinned.length === 0) {
    return { kind: 'blocked', error: new PortcullisError('PCL_ERR_ADDRESS_BLOCKED',
      `${name} resolves to the original destination ${original.address}, which is a blocked address; list the range in destinations.allow_ranges to allow it`) };
  }
  return { kind: 'verified', checked: { ...checked, allowed: pinned } };
};

const mismatch = (detail: string): Verification => ({ kind: 'mismatch', decision: deny('host-mismatch', undefined, detail) });
