import type { ProposalAnswer, SetAsideView } from '../../src/admin/api-types.js';
import type { ReplayGroupSummary } from '../../src/learn/replay-summary.js';
import { ApiError, getJson } from './api.js';
import { byId, h } from './dom.js';
import { count } from './format.js';

const clientsText = (clients: ReadonlyArray<{ client: string; count: number }>): string =>
  clients.slice(0, 5).map((c) => `${c.client} (${count(c.count)})`).join(', ') + (clients.length > 5 ? ', …' : '');

const diffSection = (title: string, groups: readonly ReplayGroupSummary[], cls: string): HTMLElement | undefined => {
  const total = groups.reduce((sum, group) => sum + group.count, 0);
  if (total === 0) return undefined;
  return h('section', { class: `diff ${cls}` },
    h('h4', {}, `${title}: ${count(total)}`),
    ...groups.map((group) => h('div', { class: 'diff-group' },
      h('div', {}, h('b', {}, `${count(group.count)} ×`), ` was ${group.before}; now ${group.now}`),
      h('div', { class: 'muted' }, `from ${clientsText(group.clients)}`),
      h('ul', {}, ...group.examples.map((example) => h('li', {}, h('code', {}, example.text), example.count > 1 ? ` ×${count(example.count)}` : ''))))));
};

const setAsideList = (title: string, groups: readonly SetAsideView[]): HTMLElement | undefined =>
  groups.length === 0 ? undefined : h('section', { class: 'set-aside' },
    h('h4', {}, title),
    h('ul', {}, ...groups.map((group) => h('li', { 'data-why': group.why },
      h('b', {}, `${count(group.count)} × ${group.host}`), `: ${group.why} · from ${clientsText(group.clients)}`,
      ...group.examples.map((example) => h('div', { class: 'muted' }, h('code', {}, example)))))));

/**
 * "Propose policy": rules learned from the flows in the buffer or an uploaded access log
 * (GET/POST /api/proposal), what they would change against the running policy, and a download.
 */
export const mountProposeView = (): { refresh(): Promise<void> } => {
  const yaml = byId('propose-yaml');
  const diff = byId('propose-diff');
  const aside = byId('propose-set-aside');
  const status = byId('propose-status');
  const download = byId<HTMLButtonElement>('propose-download');
  const includeDenied = byId<HTMLInputElement>('propose-include-denied');
  const upload = byId<HTMLInputElement>('propose-upload');
  let current: ProposalAnswer | undefined;

  const show = (answer: ProposalAnswer): void => {
    current = answer;
    download.disabled = false;
    yaml.textContent = answer.yaml;
    const replay = answer.replay;
    const sections = [
      diffSection('Allowed before, denied now', replay.newlyDenied, 'diff-denied'),
      diffSection('Denied before, allowed now', replay.newlyAllowed, 'diff-allowed'),
      diffSection('Spliced before, intercepted now', replay.nowIntercepted, 'diff-mode'),
      diffSection('Intercepted before, spliced now', replay.nowSpliced, 'diff-mode'),
    ].filter((section): section is HTMLElement => section !== undefined);
    diff.replaceChildren(
      h('p', { class: 'diff-summary' }, replay.changed === 0
        ? `Nothing changes: ${count(replay.unchanged.allowed)} allowed and ${count(replay.unchanged.denied)} denied as before.`
        : `${count(replay.changed)} of ${count(replay.total)} ${answer.source === 'live' ? 'flows' : 'lines'} change; ${count(replay.unchanged.allowed)} stay allowed, ${count(replay.unchanged.denied)} stay denied.`),
      ...sections);
    aside.replaceChildren(...[
      setAsideList('Held back for review (not proposed)', answer.held),
      setAsideList('Never proposed (bypass attempts, refusals outside the rules)', answer.excluded),
    ].filter((section): section is HTMLElement => section !== undefined));
    const bad = answer.badLines > 0 ? ` · ${count(answer.badLines)} unreadable lines skipped (first: ${answer.problems[0]?.source}: ${answer.problems[0]?.message})` : '';
    status.textContent = `${count(answer.rules.length)} rules from ${count(answer.lines)} ${answer.source === 'live' ? 'flows in the buffer' : 'uploaded log lines'}${bad}`;
  };

  const failed = (error: unknown): void => {
    status.textContent = error instanceof ApiError ? `failed: ${error.message}` : `failed: ${String(error)}`;
  };

  const query = (): string => (includeDenied.checked ? '?includeDenied=1' : '');

  const refresh = async (): Promise<void> => {
    status.textContent = 'learning from the flows in the buffer…';
    try {
      show(await getJson<ProposalAnswer>(`/api/proposal${query()}`));
    } catch (error) {
      failed(error);
    }
  };

  byId('propose-live').addEventListener('click', () => void refresh());
  upload.addEventListener('change', () => {
    const file = upload.files?.[0];
    if (file === undefined) return;
    status.textContent = `learning from ${file.name}…`;
    // Rotated logs are often gzipped: the browser unpacks them before sending.
    const body = file.name.endsWith('.gz') ? new Response(file.stream().pipeThrough(new DecompressionStream('gzip'))).text() : file.text();
    void body
      .then((text) => getJson<ProposalAnswer>(`/api/proposal${query()}`, { method: 'POST', body: text, headers: { 'content-type': 'text/plain' } }))
      .then(show, failed)
      .finally(() => { upload.value = ''; });
  });
  download.addEventListener('click', () => {
    if (current === undefined) return;
    const url = URL.createObjectURL(new Blob([current.yaml], { type: 'application/yaml' }));
    const link = h('a', { href: url, download: 'proposed.yaml' });
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  return { refresh };
};
