import type { CompiledPolicy } from '../policy/policy-engine.js';
import { judgeLogged, OUTSIDE_THE_RULES } from './judge-logged.js';
import type { LoggedRequest } from './logged-request.js';
import { replayRequests, type ReplayReport } from './replay.js';

/**
 * What replacing one policy by another changes on the same traffic: each line is first decided
 * by `running` (its decision becomes the line's "before"), then replayed against `candidate`.
 * Lines decided by more than the rules keep what the log says.
 */
export const comparePolicies = (running: CompiledPolicy, candidate: CompiledPolicy, lines: readonly LoggedRequest[]): ReplayReport =>
  replayRequests(candidate, lines.map((line): LoggedRequest => {
    // An SNI or Host mismatch, a blocked address, ...: decided by more than the rules, under either policy.
    if (line.reason !== undefined && OUTSIDE_THE_RULES.has(line.reason)) return line;
    const before = judgeLogged(running, line);
    if (before.kind === 'outside') return line;
    const { reason: _reason, rule: _rule, wouldAllow: _wouldAllow, ...rest } = line;
    return before.kind === 'allow'
      ? { ...rest, verdict: 'allow', wouldDeny: false, reason: 'rule-matched', rule: before.rule }
      : { ...rest, verdict: 'deny', wouldDeny: false, reason: before.reason, ...(before.rule !== undefined ? { rule: before.rule } : {}) };
  }));
