import type { FlowRecord } from '../flow/flow-record.js';
import type { Logger } from '../logging/logger.js';
import { allow, deny, type Decision, type DenyDecision } from '../policy/decision.js';
import type {
  Addon, AddonClientHello, AddonFlow, AddonRequestFlow, AddonResponse, AddonResponseFlow, AddonVerdict,
} from './addon-api.js';

type MaybePromise<T> = T | Promise<T>;

/** A deciding hook's outcome: the decision now in force, and for requestHeaders an answer of the addon's own. */
export interface AddonOutcome {
  readonly decision: Decision;
  readonly respond?: AddonResponse['respond'];
}

export type DecidingHook =
  | { readonly hook: 'connect'; readonly flow: AddonFlow }
  | { readonly hook: 'clientHello'; readonly flow: AddonFlow; readonly hello: AddonClientHello }
  | { readonly hook: 'requestHeaders'; readonly flow: AddonRequestFlow }
  | { readonly hook: 'responseHeaders'; readonly flow: AddonResponseFlow };

/** A chunk after the body hooks: passed on (maybe replaced), or the flow denied. */
export type ChunkOutcome = { readonly chunk: Buffer } | { readonly decision: DenyDecision };

/** Runs the loaded addons' hooks for the pipeline: in order, each within its time budget, failing closed. */
export interface AddonHost {
  /** Whether any addon has this hook (no addon, no cost). */
  has(hook: keyof Omit<Addon, 'name'>): boolean;
  decide(call: DecidingHook, decision: Decision): MaybePromise<AddonOutcome>;
  requestChunk(flow: AddonRequestFlow, chunk: Buffer): Promise<ChunkOutcome>;
  responseChunk(flow: AddonResponseFlow, chunk: Buffer): Promise<ChunkOutcome>;
  /** The error and done observers, for a finished flow. */
  finished(record: FlowRecord): void;
}

export interface AddonHostOptions {
  /** The time budget of one hook call. */
  readonly budgetMs: () => number;
  readonly logger: Logger;
}

class AddonTimeout extends Error {}

/** Calls `run` within `budgetMs`; a throw, a rejection or the budget running out reject. */
const withinBudget = <T>(run: () => T | Promise<T>, budgetMs: number): Promise<T> => new Promise<T>((resolve, reject) => {
  const timer = setTimeout(() => reject(new AddonTimeout(`took longer than its budget of ${budgetMs} ms`)), budgetMs);
  Promise.resolve().then(run).then((value) => {
    clearTimeout(timer);
    resolve(value);
  }, (error: unknown) => {
    clearTimeout(timer);
    reject(error instanceof Error ? error : new Error(String(error)));
  });
});

const failed = (addon: Addon, error: Error): DenyDecision =>
  deny('addon-failed', `addon:${addon.name}`, `${addon.name}: ${error instanceof AddonTimeout ? '' : 'threw: '}${error.message}`.slice(0, 500));

/**
 * The denials an addon's allow may lift: gaps in the rules. An ambiguous path, a Host naming
 * another server, credentials in a URL and the like stay denied whatever an addon says.
 */
const GAPS: ReadonlySet<string> = new Set(['no-rule-matched', 'port-not-allowed', 'client-not-allowed', 'method-not-allowed', 'path-not-allowed']);

/**
 * A denial no addon may lift stays as the rules made it: an addon's own deny or failure on it
 * would only hide the real reason (ambiguous-path, host-mismatch...) from the log. A gap is the
 * addon's business, so there its deny, more specific, replaces no-rule-matched and the like.
 */
const deniedForSecurity = (decision: Decision): boolean => decision.verdict === 'deny' && !GAPS.has(decision.reason);

/** An addon's allow on top of the policy's decision; on a tunnel it may also ask for interception. */
const allowedBy = (addon: Addon, verdict: Extract<AddonVerdict, { verdict: 'allow' }>, decision: Decision, tunnel: boolean): Decision => {
  if (decision.verdict === 'allow') {
    return verdict.intercept === true && tunnel && !decision.intercept ? { ...decision, intercept: true, wholeHost: false } : decision;
  }
  if (!GAPS.has(decision.reason)) return decision;
  return allow(`addon:${addon.name}`, tunnel && verdict.intercept === true, false, false);
};

export const createAddonHost = (addons: readonly Addon[], options: AddonHostOptions): AddonHost => {
  const withHook = (hook: keyof Omit<Addon, 'name'>): Addon[] => addons.filter((addon) => typeof addon[hook] === 'function');
  const hooks = new Map((['connect', 'clientHello', 'requestHeaders', 'request', 'responseHeaders', 'response', 'error', 'done'] as const)
    .map((hook) => [hook, withHook(hook)]));
  const listFor = (hook: keyof Omit<Addon, 'name'>): Addon[] => hooks.get(hook) ?? [];

  const call = (addon: Addon, spec: DecidingHook): unknown => {
    switch (spec.hook) {
      case 'connect': return addon.connect?.(spec.flow);
      case 'clientHello': return addon.clientHello?.(spec.flow, spec.hello);
      case 'requestHeaders': return addon.requestHeaders?.(spec.flow);
      default: return addon.responseHeaders?.(spec.flow);
    }
  };

  const decideAsync = async (spec: DecidingHook, first: Decision): Promise<AddonOutcome> => {
    const tunnel = spec.hook === 'connect' || spec.hook === 'clientHello';
    let decision = first;
    for (const addon of listFor(spec.hook)) {
      let result: unknown;
      try {
        result = await withinBudget(() => call(addon, spec), options.budgetMs());
      } catch (error) {
        if (deniedForSecurity(decision)) {
          options.logger.warn({ addon: addon.name, err: (error as Error).message }, 'addon failed on a denied flow');
          return { decision };
        }
        return { decision: failed(addon, error as Error) };
      }
      if (result === undefined || result === null) continue;
      if (typeof result === 'object' && 'respond' in result && spec.hook === 'requestHeaders') {
        return { decision, respond: (result as AddonResponse).respond };
      }
      const verdict = result as Partial<AddonVerdict>;
      if (verdict.verdict === 'deny') {
        if (deniedForSecurity(decision)) return { decision };
        const reason = typeof verdict.reason === 'string' && verdict.reason !== '' ? verdict.reason : 'denied';
        return { decision: deny('addon-denied', `addon:${addon.name}`, `${addon.name}: ${reason}`.slice(0, 500)) };
      }
      if (verdict.verdict === 'allow') decision = allowedBy(addon, verdict as Extract<AddonVerdict, { verdict: 'allow' }>, decision, tunnel);
      else return { decision: failed(addon, new Error(`returned something that is not a verdict: ${JSON.stringify(result).slice(0, 80)}`)) };
    }
    return { decision };
  };

  const chunk = async (hook: 'request' | 'response', flow: AddonRequestFlow | AddonResponseFlow, data: Buffer): Promise<ChunkOutcome> => {
    let current = data;
    for (const addon of listFor(hook)) {
      let result: unknown;
      try {
        result = await withinBudget(() => (hook === 'request' ? addon.request?.(flow, current) : addon.response?.(flow as AddonResponseFlow, current)), options.budgetMs());
      } catch (error) {
        return { decision: failed(addon, error as Error) };
      }
      if (Buffer.isBuffer(result)) current = result;
      else if (hook === 'request' && (result as Partial<AddonVerdict> | undefined)?.verdict === 'deny') {
        return { decision: deny('addon-denied', `addon:${addon.name}`, `${addon.name}: ${String((result as { reason?: unknown }).reason ?? 'denied')}`.slice(0, 500)) };
      }
    }
    return { chunk: current };
  };

  const observe = (addon: Addon, run: () => unknown): void => {
    withinBudget(run, options.budgetMs()).catch((error: Error) => options.logger.warn({ addon: addon.name, err: error.message }, 'addon observer failed'));
  };

  return {
    has: (hook) => listFor(hook).length > 0,
    decide: (spec, decision) => (listFor(spec.hook).length === 0 ? { decision } : decideAsync(spec, decision)),
    requestChunk: (flow, data) => chunk('request', flow, data),
    responseChunk: (flow, data) => chunk('response', flow, data),
    finished: (record) => {
      if (record.errorCode !== undefined) {
        for (const addon of listFor('error')) observe(addon, () => addon.error?.(record, { code: record.errorCode ?? '', message: record.detail ?? '' }));
      }
      for (const addon of listFor('done')) observe(addon, () => addon.done?.(record));
    },
  };
};

/** No addons: every hook passes at no cost. */
export const noAddons = (logger: Logger): AddonHost => createAddonHost([], { budgetMs: () => 1000, logger });
