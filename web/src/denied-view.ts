import { groupDeniedByHost, type DeniedGroup } from '../../src/admin/denied-hosts.js';
import { copyText } from './clipboard.js';
import { byId, h } from './dom.js';
import type { FlowStore } from './flow-store.js';
import { ago, count } from './format.js';

const card = (group: DeniedGroup, showHost: (host: string) => void): HTMLElement => {
  const copy = h('button', { type: 'button', class: 'copy' }, 'Copy allow rule');
  copy.addEventListener('click', () => {
    if (group.suggestion === undefined) return;
    void copyText(group.suggestion).then((ok) => {
      copy.textContent = ok ? 'Copied ✓' : 'Select and copy it by hand';
      window.setTimeout(() => { copy.textContent = 'Copy allow rule'; }, 2000);
    });
  });
  const flowsLink = h('button', { type: 'button', class: 'link' }, 'show flows');
  flowsLink.addEventListener('click', () => showHost(group.host));
  return h('article', { class: 'card', 'data-host': group.host },
    h('header', {},
      h('h3', {}, group.host),
      h('span', { class: 'count' }, `${count(group.count)} denied`),
      flowsLink),
    h('p', { class: 'reasons' }, ...Object.entries(group.reasons).map(([reason, n]) => h('span', { class: 'chip' }, `${reason} × ${n}`))),
    h('p', { class: 'muted' }, `ports ${group.ports.join(', ')} · clients ${group.clients.join(', ')} · last ${ago(group.lastSeen)}`),
    group.suggestion !== undefined ? h('pre', { class: 'suggestion' }, group.suggestion) : undefined,
    group.suggestion !== undefined ? copy : undefined,
    group.note !== undefined ? h('p', { class: 'note' }, group.note) : undefined,
  );
};

/** Denied flows grouped by host, most denied first, each with a copyable allow rule. */
export const mountDeniedView = (store: FlowStore, showHost: (host: string) => void): { render(): void; badge(): void } => {
  const container = byId('denied-groups');
  const badge = byId('denied-badge');
  const groups = (): DeniedGroup[] => groupDeniedByHost(store.all());
  return {
    render() {
      const all = groups();
      container.replaceChildren(...(all.length === 0
        ? [h('p', { class: 'empty' }, 'Nothing denied in the buffer.')]
        : all.map((group) => card(group, showHost))));
    },
    badge() {
      const hosts = groups().length;
      badge.hidden = hosts === 0;
      badge.textContent = String(hosts);
    },
  };
};
