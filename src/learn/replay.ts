import type { CompiledPolicy } from '../policy/policy-engine.js';
import { judgeLogged, type Judgement } from './judge-logged.js';
import type { LoggedRequest } from './logged-request.js';

/** Lines that changed the same way: same rule and reason before, same rule and reason now. */
export interface ReplayGroup {
  /** What decided before: the rule that allowed, or the denial's reason. */
  readonly before: { readonly rule?: string; readonly reason?: string; readonly wouldDeny: boolean };
  /** What decides now: the allowing rule, or the denial's reason and closest rule. */
  readonly now: { readonly rule?: string; readonly reason?: string; readonly wouldAllow?: string };
  readonly lines: readonly LoggedRequest[];
}

export interface ReplayReport {
  readonly total: number;
  /** Allowed before (also dry-run would-denies, which were let through), denied by the candidate. */
  readonly newlyDenied: readonly ReplayGroup[];
  /** Denied before, allowed by the candidate. */
  readonly newlyAllowed: readonly ReplayGroup[];
  /** Tunnels spliced before that the candidate intercepts: the requests inside were never logged, so replay cannot judge them. */
  readonly nowIntercepted: readonly ReplayGroup[];
  /** Tunnels intercepted before that the candidate splices: the requests inside pass unseen. */
  readonly nowSpliced: readonly ReplayGroup[];
  readonly unchanged: { readonly allowed: number; readonly denied: number };
  /** Decided by more than the rules (address guard, SNI and Host checks, ...), the same before and now; per reason. */
  readonly notJudged: ReadonlyMap<string, number>;
  /** Lines that change: the sum of the four lists. */
  readonly changed: number;
}

type Mutable = { before: ReplayGroup['before']; now: ReplayGroup['now']; lines: LoggedRequest[] };

const collector = (): { add(key: string, make: () => Omit<Mutable, 'lines'>, line: LoggedRequest): void; list(): ReplayGroup[]; count(): number } => {
  const groups = new Map<string, Mutable>();
  let count = 0;
  return {
    add(key, make, line) {
      count += 1;
      let group = groups.get(key);
      if (group === undefined) {
        group = { ...make(), lines: [] };
        groups.set(key, group);
      }
      group.lines.push(line);
    },
    list: () => [...groups.values()].sort((a, b) => b.lines.length - a.lines.length),
    count: () => count,
  };
};

const optional = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/**
 * Decides every logged request with the candidate policy and compares with what happened
 * (the log's verdict). Pure and offline: no name is resolved, nothing is dialed.
 */
export const replayRequests = (policy: CompiledPolicy, requests: readonly LoggedRequest[]): ReplayReport => {
  const newlyDenied = collector();
  const newlyAllowed = collector();
  const nowIntercepted = collector();
  const nowSpliced = collector();
  const unchanged = { allowed: 0, denied: 0 };
  const notJudged = new Map<string, number>();
  for (const line of requests) {
    const now: Judgement = judgeLogged(policy, line);
    if (now.kind === 'outside') {
      notJudged.set(now.reason, (notJudged.get(now.reason) ?? 0) + 1);
      continue;
    }
    const before = optional({ rule: line.rule, reason: line.verdict === 'deny' || line.wouldDeny ? line.reason : undefined, wouldDeny: line.wouldDeny });
    if (line.verdict === 'allow' && now.kind === 'deny') {
      const after = optional({ reason: now.reason, rule: now.rule, wouldAllow: now.wouldAllow });
      newlyDenied.add(`${line.rule ?? ''}|${line.wouldDeny ? line.reason ?? '' : ''}|${now.reason}|${now.rule ?? ''}|${now.wouldAllow ?? ''}`, () => ({ before, now: after }), line);
    } else if (line.verdict === 'deny' && now.kind === 'allow') {
      newlyAllowed.add(`${line.reason ?? ''}|${line.rule ?? ''}|${now.rule}`, () => ({ before, now: { rule: now.rule } }), line);
    } else if (now.kind === 'allow' && line.kind === 'tunnel' && line.tunnelMode === 'splice' && now.intercept) {
      nowIntercepted.add(now.rule, () => ({ before, now: { rule: now.rule } }), line);
    } else if (now.kind === 'allow' && line.kind === 'tunnel' && line.tunnelMode === 'intercept' && !now.intercept) {
      nowSpliced.add(now.rule, () => ({ before, now: { rule: now.rule } }), line);
    } else if (now.kind === 'allow') {
      unchanged.allowed += 1;
    } else {
      unchanged.denied += 1;
    }
  }
  return {
    total: requests.length,
    newlyDenied: newlyDenied.list(),
    newlyAllowed: newlyAllowed.list(),
    nowIntercepted: nowIntercepted.list(),
    nowSpliced: nowSpliced.list(),
    unchanged,
    notJudged,
    changed: newlyDenied.count() + newlyAllowed.count() + nowIntercepted.count() + nowSpliced.count(),
  };
};
