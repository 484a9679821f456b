import type { FlowDecision, FlowSummary } from '../../src/admin/flow-view.js';
import { h } from './dom.js';
import { bytes, clockTime, duration } from './format.js';

const LABELS: Record<FlowDecision, string> = { allow: 'ALLOW', deny: 'DENY', 'would-deny': 'WOULD DENY' };

export const decisionBadge = (decision: FlowDecision): HTMLElement =>
  h('span', { class: `decision decision-${decision}` }, LABELS[decision]);

const size = (flow: FlowSummary): string =>
  flow.kind === 'dns' ? `${flow.dns?.answers.length ?? 0} answers`
    : flow.kind === 'tunnel' ? `↑${bytes(flow.bytesUp)} ↓${bytes(flow.bytesDown)}` : bytes(flow.bytesDown);

/** The status column: the HTTP status, or a DNS query's response code. */
const statusText = (flow: FlowSummary): string => (flow.dns !== undefined ? flow.dns.rcode : flow.status > 0 ? String(flow.status) : '—');

/** One row of the flow table. */
export const flowRow = (flow: FlowSummary): HTMLTableRowElement => {
  const denied = flow.decision !== 'allow';
  const row = h('tr', { 'data-id': flow.id, 'data-decision': flow.decision, class: `row-${flow.decision}`, tabindex: '0' },
    h('td', { class: 'c-time' }, clockTime(flow.startedAt)),
    h('td', { class: 'c-client' }, flow.client.address),
    h('td', { class: 'c-method' }, flow.method),
    h('td', { class: 'c-url', title: flow.url },
      flow.parentId !== undefined ? h('span', { class: 'tag', title: 'decrypted inside an intercepted tunnel' }, 'TLS') : undefined,
      flow.kind === 'tunnel' ? h('span', { class: 'tag', title: flow.tunnelMode === 'intercept' ? 'intercepted tunnel' : 'spliced tunnel (not decrypted)' }, flow.tunnelMode === 'intercept' ? 'MITM' : 'TUNNEL') : undefined,
      flow.kind === 'dns' ? h('span', { class: 'tag', title: `DNS query over ${flow.dns?.transport ?? 'udp'}` }, 'DNS') : undefined,
      flow.url),
    h('td', { class: 'c-decision' }, decisionBadge(flow.decision), denied ? h('div', { class: 'reason' }, flow.reason) : undefined,
      flow.wouldAllow !== undefined ? h('div', { class: 'would-allow', title: 'a rule in mode: report would have allowed this' }, `would allow: ${flow.wouldAllow}`) : undefined),
    h('td', { class: 'c-rule' }, flow.rule ?? (denied ? 'default deny' : '—')),
    h('td', { class: `c-status status-${Math.floor(flow.status / 100)}xx` }, statusText(flow)),
    h('td', { class: 'c-bytes' }, size(flow)),
    h('td', { class: 'c-duration' }, duration(flow.durationMs)),
  );
  return row;
};
