import type { Decision } from '../policy/decision.js';
import type { FlowRecord } from './flow-record.js';

/** The part of a flow record a policy decision sets. */
export type DecisionFields = Pick<FlowRecord, 'verdict' | 'reason' | 'rule' | 'detail' | 'wouldDeny' | 'wouldAllow'>;

/**
 * What a decision writes on its flow record: verdict, reason, rule, detail, and for a denial
 * `wouldAllow` (a `mode: report` rule that would have allowed it). With `dryRun`, a denial is
 * let through: verdict allow with `wouldDeny`. Keys without a value are left out, so the
 * result can be assigned onto a record being built.
 */
export const decisionFields = (decision: Decision, dryRun: boolean): DecisionFields => {
  if (decision.verdict === 'allow') return { verdict: 'allow', reason: decision.reason, rule: decision.rule };
  const fields: { -readonly [K in keyof DecisionFields]: DecisionFields[K] } = {
    verdict: dryRun ? 'allow' : 'deny',
    reason: decision.reason,
  };
  if (decision.rule !== undefined) fields.rule = decision.rule;
  if (decision.detail !== undefined) fields.detail = decision.detail;
  if (dryRun) fields.wouldDeny = true;
  if (decision.wouldAllow !== undefined) fields.wouldAllow = decision.wouldAllow;
  return fields;
};
