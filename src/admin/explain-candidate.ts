import { formatProblem } from '../config/config-problem.js';
import { parseConfigText } from '../config/load-config.js';
import type { ProxyConfig, RuleConfig } from '../config/schema.js';
import { compilePolicy, type CompiledPolicy } from '../policy/policy-engine.js';

/** Longest candidate rule accepted (a suggestion is a few lines). */
export const MAX_CANDIDATE_CHARS = 4096;

export type CandidatePolicy =
  | { readonly ok: true; readonly policy: CompiledPolicy; readonly name: string; readonly explain: string }
  | { readonly ok: false; readonly error: string };

/**
 * The policy in force with one candidate rule added (an entry under `rules:`, as the Denied
 * tab suggests it), compiled in memory only and never applied: what `explain` runs against to
 * show what a suggested rule would allow before anyone copies it.
 */
export const policyWithCandidate = (rulesInForce: readonly RuleConfig[], candidate: string): CandidatePolicy => {
  if (candidate.length > MAX_CANDIDATE_CHARS) return { ok: false, error: `the candidate rule is longer than ${MAX_CANDIDATE_CHARS} characters` };
  const parsed = parseConfigText(`rules:\n${candidate}`, 'candidate rule');
  if (!parsed.ok) return { ok: false, error: parsed.problems.map(formatProblem).join('; ') };
  const rules: ProxyConfig['rules'] = parsed.config.rules;
  const [rule] = rules;
  if (rule === undefined || rules.length !== 1) return { ok: false, error: 'give exactly one rule' };
  const taken = new Set(rulesInForce.map((r) => r.name));
  const name = taken.has(rule.name) ? `${rule.name}-candidate` : rule.name;
  try {
    const policy = compilePolicy([...rulesInForce, { ...rule, name }]);
    return { ok: true, policy, name, explain: policy.explainRules()[rulesInForce.length] ?? '' };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
};
