import type { FlowRecord } from '../flow/flow-record.js';
import type { RuleHits } from './api-types.js';
import { decisionOf } from './to-flow-view.js';

export type { RuleHits } from './api-types.js';

export interface RuleCounters {
  record(record: FlowRecord): void;
  /** Hits by rule name; denials that named no rule are under `null`. */
  get(rule: string | null): RuleHits;
  /** Every name seen so far (a rule removed by a reload keeps its counts). */
  names(): string[];
}

const ZERO: RuleHits = Object.freeze({ allowed: 0, denied: 0, wouldDeny: 0, wouldAllow: 0, lastHitAt: 0 });

type Hits = { -readonly [K in keyof RuleHits]: RuleHits[K] };

export const createRuleCounters = (): RuleCounters => {
  const byRule = new Map<string | null, Hits>();
  const hitsOf = (key: string | null): Hits => {
    let hits = byRule.get(key);
    if (hits === undefined) {
      hits = { allowed: 0, denied: 0, wouldDeny: 0, wouldAllow: 0, lastHitAt: 0 };
      byRule.set(key, hits);
    }
    return hits;
  };
  return {
    record(record) {
      const hits = hitsOf(record.rule ?? null);
      const decision = decisionOf(record);
      if (decision === 'allow') hits.allowed += 1;
      else if (decision === 'deny') hits.denied += 1;
      else hits.wouldDeny += 1;
      const end = record.startedAt + record.durationMs;
      hits.lastHitAt = Math.max(hits.lastHitAt, end);
      // A denial a rule in mode: report would have allowed counts for that rule too.
      if (record.wouldAllow !== undefined) {
        const trial = hitsOf(record.wouldAllow);
        trial.wouldAllow += 1;
        trial.lastHitAt = Math.max(trial.lastHitAt, end);
      }
    },
    get: (rule) => ({ ...(byRule.get(rule) ?? ZERO) }),
    names: () => [...byRule.keys()].filter((key): key is string => key !== null),
  };
};
