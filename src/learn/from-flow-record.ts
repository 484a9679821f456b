import type { FlowRecord } from '../flow/flow-record.js';
import { displayUrl } from '../logging/access-log-format.js';
import { targetFields, type LoggedRequest } from './logged-request.js';
import { optional } from './parse-json-line.js';

/** Flows `learn` reads: requests and tunnels. A DNS query teaches nothing the tunnel or request after it does not. */
export const isLearnable = (record: FlowRecord): boolean => record.kind !== 'dns';

/** A finished flow (the dashboard's buffer) as `learn` and `replay` read a json log line of it; callers leave DNS flows out (isLearnable). */
export const fromFlowRecord = (record: FlowRecord): LoggedRequest => {
  if (record.kind === 'dns') throw new Error(`flow ${record.id} is a DNS query, which learn does not read`);
  const url = displayUrl(record);
  return {
    source: `flow ${record.id}`,
    format: 'flow',
    id: record.id,
    kind: record.kind,
    method: record.method,
    url,
    client: record.client.address,
    verdict: record.verdict,
    reason: record.reason,
    wouldDeny: record.wouldDeny === true,
    status: record.status,
    time: record.startedAt + Math.max(0, record.durationMs),
    ...targetFields(record.kind, url),
    ...optional('user', record.user),
    ...optional('rule', record.rule),
    ...optional('wouldAllow', record.wouldAllow),
    ...optional('tunnelMode', record.tunnelMode),
    ...optional('error', record.errorCode),
    ...optional('sni', record.sni),
  };
};
