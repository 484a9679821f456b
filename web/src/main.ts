import type { FlowSummary, LiveStats } from '../../src/admin/flow-view.js';
import { getJson, initToken, setToken, whenUnauthorized } from './api.js';
import { mountCaView } from './ca-view.js';
import { mountDeniedView } from './denied-view.js';
import { mountDetailView } from './detail-view.js';
import { byId } from './dom.js';
import { mountExplainView } from './explain-view.js';
import { createFlowStore } from './flow-store.js';
import { mountFlowsView } from './flows-view.js';
import { count } from './format.js';
import { startLiveStream } from './live-stream.js';
import { mountProposeView } from './propose-view.js';
import { mountRulesView } from './rules-view.js';

/** The dashboard: tabs over one live flow store fed by the SSE stream. */

const TABS = ['flows', 'denied', 'rules', 'propose', 'explain', 'ca'] as const;
type Tab = (typeof TABS)[number];

initToken();
const store = createFlowStore();
const explainView = mountExplainView();
const detail = mountDetailView((id) => store.get(id), (flow: FlowSummary) => {
  showTab('explain');
  // A tunnel or a DNS query is explained as the HTTPS request that would follow it.
  const asRequest = flow.kind === 'tunnel' || flow.kind === 'dns';
  explainView.explain(asRequest ? 'GET' : flow.method, asRequest ? `https://${flow.url}/` : flow.url, flow.client.address, flow.sni);
});
const flowsView = mountFlowsView(store, (id) => detail.show(id));
const deniedView = mountDeniedView(store, (host) => {
  showTab('flows');
  flowsView.setFilter(`host:${host} -decision:allow`);
});
const rulesView = mountRulesView();
const proposeView = mountProposeView();
let proposed = false;
const caView = mountCaView();
let tab: Tab = 'flows';
let rulesTimer: number | undefined;

function showTab(next: Tab): void {
  tab = next;
  if (location.hash !== `#${next}`) history.replaceState(null, '', `#${next}`);
  for (const view of document.querySelectorAll<HTMLElement>('.view')) view.hidden = view.dataset.view !== next;
  for (const link of document.querySelectorAll<HTMLElement>('[data-tab]')) link.setAttribute('aria-selected', String(link.dataset.tab === next));
  window.clearInterval(rulesTimer);
  if (next !== 'flows') detail.hide();
  if (next === 'denied') deniedView.render();
  if (next === 'rules') {
    void rulesView.refresh().catch(() => {});
    rulesTimer = window.setInterval(() => void rulesView.refresh().catch(() => {}), 2000);
  }
  if (next === 'ca') void caView.refresh().catch(() => {});
  if (next === 'propose' && !proposed) {
    proposed = true;
    void proposeView.refresh();
  }
}

const tabFromHash = (): Tab => {
  const name = location.hash.slice(1);
  return (TABS as readonly string[]).includes(name) ? (name as Tab) : 'flows';
};
window.addEventListener('hashchange', () => showTab(tabFromHash()));

const live = byId('live');
const setStats = (stats: LiveStats): void => {
  byId('stat-conns').textContent = count(stats.activeConnections);
  byId('stat-rate').textContent = stats.flowsPerSecond.toFixed(1);
  byId('stat-flows').textContent = count(stats.flows);
  byId('stat-denied').textContent = count(stats.denied);
};

let deniedTimer: number | undefined;
store.onChange(() => {
  // The denied view and badge are regrouped at most twice a second.
  if (deniedTimer !== undefined) return;
  deniedTimer = window.setTimeout(() => {
    deniedTimer = undefined;
    deniedView.badge();
    if (tab === 'denied') deniedView.render();
  }, 500);
});

const stream = startLiveStream({
  hello: (info) => store.setCapacity(info.capacity),
  flows: (batch) => store.add(batch),
  stats: setStats,
  dropped: (n) => { live.title = `${n} flows were skipped because this tab fell behind`; },
  state: (state) => {
    live.dataset.state = state;
    live.textContent = state === 'live' ? 'live' : state === 'unauthorized' ? 'token needed' : state;
  },
}, () => store.lastSeq());

const dialog = byId<HTMLDialogElement>('token-dialog');
whenUnauthorized(() => {
  if (!dialog.open) dialog.showModal();
});
byId<HTMLFormElement>('token-form').addEventListener('submit', () => {
  setToken(byId<HTMLInputElement>('token-input').value);
  stream.restart();
  showTab(tab);
});

void getJson<{ version: string }>('/api/version').then((info) => {
  byId('version').textContent = `v${info.version}`;
}, () => {});
showTab(tabFromHash());
