import type { FlowRecord } from '../flow/flow-record.js';
import { displayUrl } from '../logging/access-log-format.js';
import type { FlowDecision, FlowSummary, FlowView } from './flow-view.js';

export const decisionOf = (record: FlowRecord): FlowDecision =>
  record.verdict === 'deny' ? 'deny' : record.wouldDeny === true ? 'would-deny' : 'allow';

/** The API view of a record: numbered, with the display URL (absolute, userinfo redacted). */
export const toFlowView = (record: FlowRecord, seq: number): FlowView =>
  // Object.assign, not spread: spreading a record into a literal is V8's slow generic path (µs per flow).
  Object.freeze(Object.assign({}, record, { url: displayUrl(record), seq, decision: decisionOf(record) }));

/** A view without headers, for rows and the live stream. */
export const toFlowSummary = (view: FlowView): FlowSummary => {
  const { requestHeaders: _request, responseHeaders: _response, ...summary } = view;
  return summary;
};
