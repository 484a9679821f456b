import type http from 'node:http';
import type { AdminContext } from './admin-context.js';
import { expandGroups } from '../proxy-state.js';
import { policyWithCandidate } from './explain-candidate.js';
import { explainRequest } from './explain-request.js';
import { sendError, sendJson } from './http-replies.js';

/** `GET /api/rules`: the policy in force, each rule with its matchers explained and its hit counts. */
export const listRules = (ctx: AdminContext, res: http.ServerResponse): void => {
  const { config, policy } = ctx.proxy.state();
  const explained = policy.explainRules();
  const inForce = new Set(config.rules.map((rule) => rule.name));
  sendJson(res, 200, {
    default: config.default,
    dryRun: config.dry_run,
    loadedAt: ctx.policyLoadedAt(),
    rules: config.rules.map((rule, index) => ({ name: rule.name, explain: explained[index] ?? '', config: rule, hits: ctx.counters.get(rule.name) })),
    /** Denials no rule came close to (no-rule-matched and the like). */
    unmatched: ctx.counters.get(null),
    /** Rules no longer in the policy (removed by a reload) that still have counts. */
    removed: ctx.counters.names().filter((name) => !inForce.has(name)).map((name) => ({ name, hits: ctx.counters.get(name) })),
  });
};

/**
 * `GET /api/explain?method=GET&url=...&client=IP&sni=NAME`: what the policy in force would
 * decide. With `candidate=` (one rule entry in YAML, as the Denied tab suggests it): what it
 * would decide with that rule added, compiled in memory and never applied.
 */
export const explain = (ctx: AdminContext, res: http.ServerResponse, query: URLSearchParams): void => {
  const url = query.get('url');
  if (url === null || url.trim() === '') {
    sendError(res, 400, 'give url=, e.g. /api/explain?method=GET&url=https://example.com/');
    return;
  }
  const { config, policy } = ctx.proxy.state();
  const candidateText = query.get('candidate');
  let against = policy;
  let candidate: { name: string; explain: string } | undefined;
  if (candidateText !== null) {
    const withCandidate = policyWithCandidate(expandGroups(config), candidateText);
    if (!withCandidate.ok) {
      sendError(res, 400, `candidate: ${withCandidate.error}`);
      return;
    }
    against = withCandidate.policy;
    candidate = { name: withCandidate.name, explain: withCandidate.explain };
  }
  const sni = query.get('sni');
  const result = explainRequest(against, config.dry_run, {
    method: query.get('method') || 'GET', url, client: query.get('client') || '127.0.0.1', ...(sni ? { sni } : {}),
  });
  if (!result.ok) sendError(res, 400, result.error);
  else sendJson(res, 200, candidate === undefined ? result : { ...result, candidate });
};

/** `POST /api/reload`: re-reads the config file; a broken one is refused (422) and the old policy stays. */
export const reload = async (ctx: AdminContext, res: http.ServerResponse): Promise<void> => {
  const result = await ctx.reload();
  if (result.ok) sendJson(res, 200, { ok: true, rules: result.rules, loadedAt: ctx.policyLoadedAt() });
  else if (result.unavailable) sendError(res, 409, result.problems.join('; '), { ok: false, problems: result.problems });
  else sendError(res, 422, 'the new config has problems; the old policy stays in force', { ok: false, problems: result.problems });
};
