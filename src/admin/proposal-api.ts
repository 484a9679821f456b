import type http from 'node:http';
import { parseConfigText } from '../config/load-config.js';
import { comparePolicies } from '../learn/compare-policies.js';
import { summarizeReplay } from '../learn/format-replay.js';
import { fromFlowRecord, isLearnable } from '../learn/from-flow-record.js';
import type { LoggedRequest } from '../learn/logged-request.js';
import { parseAccessLogText, type LogProblem } from '../learn/parse-access-log.js';
import type { SetAside } from '../learn/proposal.js';
import { proposeRules, type LearnOptions } from '../learn/propose-rules.js';
import { renderProposal } from '../learn/render-proposal.js';
import { compilePolicy } from '../policy/policy-engine.js';
import type { AdminContext } from './admin-context.js';
import type { ClientCounts, ProposalAnswer, SetAsideView } from './api-types.js';
import { readBody, sendError, sendJson, sendText } from './http-replies.js';

/** Uploaded logs are parsed in memory: a few hundred thousand lines at most. */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

const counts = (clients: ReadonlyMap<string, number>): ClientCounts => [...clients].map(([client, count]) => ({ client, count }));
const setAside = (groups: readonly SetAside[]): SetAsideView[] =>
  groups.map((group) => ({ ...group, clients: counts(group.clients) }));

const optionsFrom = (query: URLSearchParams): LearnOptions | string => {
  const wildcard = query.get('wildcardMin');
  if (wildcard !== null && !/^\d{1,4}$/.test(wildcard)) return 'wildcardMin must be a whole number (0: never)';
  return {
    includeDenied: query.get('includeDenied') === '1',
    withClients: query.get('withClients') === '1',
    ...(wildcard !== null ? { wildcardMin: Number(wildcard) } : {}),
  };
};

const answer = (ctx: AdminContext, source: 'live' | 'upload', lines: readonly LoggedRequest[], options: LearnOptions, problems: readonly LogProblem[]): ProposalAnswer => {
  const proposal = proposeRules(lines, options);
  const yaml = renderProposal(proposal, {
    sources: ['access.log'], outputName: 'proposed.yaml', label: source === 'live' ? 'the dashboard\'s flow buffer' : 'an uploaded log',
  });
  // The candidate is the very file offered for download, loaded as `portcullis replay -c` would.
  const loaded = parseConfigText(yaml, 'proposed.yaml');
  if (!loaded.ok) throw new Error(`the proposal does not load: ${loaded.problems.map((p) => p.message).join('; ')}`);
  const candidate = compilePolicy(loaded.config.rules);
  const running = ctx.proxy.state().policy;
  return {
    source,
    lines: lines.length,
    problems: problems.slice(0, 10),
    badLines: problems.length,
    yaml,
    rules: proposal.rules.map((rule) => ({ ...rule, covers: { ...rule.covers, clients: counts(rule.covers.clients) } })),
    held: setAside(proposal.held),
    excluded: setAside(proposal.excluded),
    totals: proposal.totals,
    replay: summarizeReplay(comparePolicies(running, candidate, lines)),
  };
};

/** `GET /api/proposal`: a policy learned from the flows in the buffer, and what it changes. `GET /api/proposal.yaml`: the file alone. */
export const proposeFromFlows = (ctx: AdminContext, res: http.ServerResponse, query: URLSearchParams, yamlOnly: boolean): void => {
  const options = optionsFrom(query);
  if (typeof options === 'string') {
    sendError(res, 400, options);
    return;
  }
  const result = answer(ctx, 'live', ctx.ring.list().filter(isLearnable).map(fromFlowRecord), options, []);
  if (yamlOnly) sendText(res, 200, result.yaml, 'application/yaml; charset=utf-8', { 'content-disposition': 'attachment; filename="proposed.yaml"' });
  else sendJson(res, 200, result);
};

/** `POST /api/proposal` with an access log (json or Squid) as the body: the same, learned from it. */
export const proposeFromUpload = async (ctx: AdminContext, req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): Promise<void> => {
  const options = optionsFrom(query);
  if (typeof options === 'string') {
    sendError(res, 400, options);
    return;
  }
  let text: string;
  try {
    text = await readBody(req, MAX_UPLOAD_BYTES);
  } catch (error) {
    sendError(res, 413, `${(error as Error).message}: learn from a larger log with "portcullis learn" instead`);
    return;
  }
  const parsed = parseAccessLogText(text, 'upload');
  if (parsed.requests.length === 0) {
    sendError(res, 400, 'no access-log lines in the upload (json or Squid format)', { problems: parsed.problems.slice(0, 10) });
    return;
  }
  sendJson(res, 200, answer(ctx, 'upload', parsed.requests, options, parsed.problems));
};
