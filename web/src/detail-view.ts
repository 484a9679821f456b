import type { FlowSummary, FlowView } from '../../src/admin/flow-view.js';
import type { HeaderPair } from '../../src/flow/flow-record.js';
import { getJson } from './api.js';
import { byId, clear, h, type Child } from './dom.js';
import { bytes, dateTime, duration } from './format.js';
import { decisionBadge } from './flow-row.js';

const field = (label: string, value: Child): HTMLElement[] =>
  value === undefined || value === '' ? [] : [h('dt', {}, label), h('dd', {}, value)];

const list = (...items: HTMLElement[][]): HTMLElement => h('dl', { class: 'facts' }, ...items.flat());

const headerTable = (title: string, headers: readonly HeaderPair[] | undefined): HTMLElement =>
  h('section', { class: 'headers' },
    h('h3', {}, title),
    headers === undefined || headers.length === 0
      ? h('p', { class: 'muted' }, 'none recorded')
      : h('table', {}, h('tbody', {}, ...headers.map(([name, value]) =>
        h('tr', {}, h('th', {}, name), h('td', { class: value === '[redacted]' ? 'redacted' : undefined }, value))))));

const transportSection = (flow: FlowSummary): HTMLElement | undefined => {
  if (flow.tls !== undefined) {
    return h('section', {}, h('h3', {}, 'TLS'), list(
      field('Certificate', 'minted by Portcullis (intercepted, decrypted)'),
      field('SNI', flow.tls.sni ?? flow.sni),
      field('Version', flow.tls.version),
      field('Cipher', flow.tls.cipher),
      field('ALPN', flow.tls.alpn),
    ));
  }
  if (flow.dns !== undefined) {
    return h('section', {}, h('h3', {}, 'DNS'), list(
      field('Transport', flow.dns.transport.toUpperCase()),
      field('Response code', flow.dns.rcode),
      field('Answers', flow.dns.answers.length > 0 ? flow.dns.answers.join(', ') : 'none'),
    ));
  }
  if (flow.kind === 'tunnel') {
    return h('section', {}, h('h3', {}, 'TLS'), list(
      field('Handling', flow.tunnelMode === 'intercept' ? 'intercepted (handshake did not complete)' : 'spliced: relayed without decrypting'),
      field('SNI', flow.sni ?? '—'),
    ));
  }
  return undefined;
};

const since = (flow: FlowSummary, at: number | undefined): string | undefined =>
  at === undefined ? undefined : `+${duration(at - flow.startedAt)}`;

const render = (flow: FlowSummary | FlowView, onExplain: (flow: FlowSummary) => void): HTMLElement[] => {
  const full = flow as Partial<FlowView>;
  return [
    h('section', {}, list(
      field('Decision', h('span', {}, decisionBadge(flow.decision), ' ', flow.reason)),
      field('Rule', flow.rule ?? (flow.decision === 'allow' ? undefined : 'none: default deny')),
      field('Detail', flow.detail),
      field('Would allow', flow.wouldAllow !== undefined ? `rule "${flow.wouldAllow}" (mode: report, not enforced)` : undefined),
      field(flow.kind === 'tunnel' ? 'Target' : flow.kind === 'dns' ? 'Name' : 'URL', flow.url),
      field(flow.kind === 'dns' ? 'Query type' : 'Method', flow.method),
      field('Status', flow.status > 0 ? String(flow.status) : '—'),
      field('Client', `${flow.client.address}:${flow.client.port}`),
      field('User', flow.user),
      field('Listener', flow.listener),
      field('Upstream', flow.upstreamAddress),
      field('Error', flow.errorCode),
      field('Bytes', `↑ ${bytes(flow.bytesUp)}  ↓ ${bytes(flow.bytesDown)}`),
      field('Content type', flow.contentType),
      field('Flow', flow.parentId !== undefined ? `${flow.id} (inside tunnel ${flow.parentId})` : flow.id),
    )),
    h('section', {}, h('h3', {}, 'Timings'), list(
      field('Started', dateTime(flow.startedAt)),
      field('Upstream connected', since(flow, flow.timings?.upstreamConnectedAt)),
      field('Response headers', since(flow, flow.timings?.responseStartedAt)),
      field('Finished', `+${duration(flow.durationMs)}`),
    )),
    transportSection(flow) ?? h('span', {}),
    headerTable('Request headers', full.requestHeaders),
    headerTable('Response headers', full.responseHeaders),
    h('p', {}, h('button', { type: 'button', class: 'explain-this' }, 'Explain this request against the policy')),
  ].map((element) => {
    element.querySelector('.explain-this')?.addEventListener('click', () => onExplain(flow));
    return element;
  });
};

/** The side panel with one flow's details; headers come from GET /api/flows/ID. */
export const mountDetailView = (lookup: (id: string) => FlowSummary | undefined, onExplain: (flow: FlowSummary) => void): { show(id: string): void; hide(): void } => {
  const panel = byId('detail');
  const body = byId('detail-body');
  const title = byId('detail-title');
  /** While open, the table makes room for the panel (see body.detail-open in style.css). */
  const setOpen = (open: boolean): void => {
    panel.hidden = !open;
    document.body.classList.toggle('detail-open', open);
  };
  byId('detail-close').addEventListener('click', () => setOpen(false));
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') setOpen(false);
  });
  let current = '';
  return {
    hide: () => setOpen(false),
    show(id) {
      current = id;
      const summary = lookup(id);
      setOpen(true);
      title.textContent = summary ? `${summary.method} ${summary.host}` : id;
      clear(body);
      if (summary) body.append(...render(summary, onExplain));
      getJson<FlowView>(`/api/flows/${encodeURIComponent(id)}`).then((flow) => {
        if (current !== id) return;
        clear(body);
        body.append(...render(flow, onExplain));
      }, () => {
        if (current !== id || summary === undefined) return;
        body.append(h('p', { class: 'muted' }, 'Headers are no longer in the server\'s buffer.'));
      });
    },
  };
};
