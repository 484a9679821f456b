import type { FlowBuilder } from '../flow/flow-builder.js';
import type { Decision, DenyDecision } from '../policy/decision.js';
import type { ProxyRuntime } from '../runtime.js';

/** Applies the decision to the flow record; returns the deny to enforce, or undefined to go on. */
export const enforceDecision = (runtime: ProxyRuntime, flow: FlowBuilder, decision: Decision): DenyDecision | undefined => {
  if (decision.verdict === 'allow') {
    Object.assign(flow.fields, { verdict: 'allow', reason: decision.reason, rule: decision.rule });
    return undefined;
  }
  Object.assign(flow.fields, { verdict: 'deny', reason: decision.reason, rule: decision.rule, detail: decision.detail });
  if (!runtime.state().config.dry_run) return decision;
  Object.assign(flow.fields, { verdict: 'allow', wouldDeny: true });
  return undefined;
};
