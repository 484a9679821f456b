import type { FlowRecord } from '../flow/flow-record.js';
import { displayUrl } from '../logging/access-log-format.js';
import { targetFields, type LoggedRequest } from './logged-request.js';
import { optional } from './parse-json-line.js';

/** A finished flow (the dashboard's buffer) as `learn` and `replay` read a json log line of it. */
export const fromFlowRecord = (record: FlowRecord): LoggedRequest => {
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
