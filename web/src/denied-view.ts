import type { ExplainResult } from '../../src/admin/api-types.js';
import { groupDeniedByHost, type DeniedGroup, type DeniedSample } from '../../src/admin/denied-hosts.js';
import { ApiError, getJson } from './api.js';
import { copyText } from './clipboard.js';
import { byId, h } from './dom.js';
import type { FlowStore } from './flow-store.js';
import { ago, count } from './format.js';

/** A suggestion explained against the policy in force plus the suggested rule (kept across re-renders). */
interface Preview {
  readonly suggestion: string;
  readonly node: HTMLElement;
  readonly ready: boolean;
}

type ExplainAnswer = Extract<ExplainResult, { ok: true }>;

const explainSample = (sample: DeniedSample, suggestion: string): Promise<ExplainAnswer> =>
  getJson<ExplainAnswer>(`/api/explain?${new URLSearchParams({ method: sample.method, url: sample.url, client: sample.client, candidate: suggestion })}`);

const outcome = (answer: ExplainAnswer): string => {
  if (answer.verdict === 'deny') return `still denied: ${answer.decision.verdict === 'deny' ? answer.decision.reason : ''}`;
  const rule = answer.decision.verdict === 'allow' ? answer.decision.rule : '';
  return `allowed by ${answer.candidate?.name === rule ? 'the suggested rule' : `rule "${rule}"`}${answer.spliced ? ', spliced (not decrypted): every request in the tunnel passes' : ''}`;
};

/**
 * Explains the suggestion before it can be copied: what its matchers allow (the rule as
 * `explain` reads it) and, for each denied request it was made from, the decision with it.
 */
const buildPreview = async (group: DeniedGroup, suggestion: string): Promise<HTMLElement> => {
  const samples = group.samples ?? [];
  const answers = await Promise.all(samples.map((sample) => explainSample(sample, suggestion)));
  const explain = answers[0]?.candidate?.explain ?? '';
  return h('div', { class: 'preview' },
    h('p', { class: 'preview-title' }, 'With this rule added, the policy would:'),
    h('p', { class: 'candidate-explain' }, explain),
    h('ul', { class: 'preview-samples' }, ...samples.map((sample, index) => {
      const answer = answers[index];
      return h('li', { 'data-verdict': answer?.verdict ?? '' }, `${sample.method} ${sample.url} → ${answer ? outcome(answer) : '?'}`);
    })),
    h('p', { class: 'muted' }, 'It allows everything its matchers cover, not only these requests. Copy it only if that is what you want.'));
};

const card = (group: DeniedGroup, previews: Map<string, Preview>, showHost: (host: string) => void): HTMLElement => {
  const suggestion = group.suggestion;
  const kept = suggestion === undefined ? undefined : previews.get(group.host);
  const preview = kept !== undefined && kept.suggestion === suggestion ? kept : undefined;
  const copy = h('button', { type: 'button', class: 'copy', 'data-state': preview?.ready ? 'explained' : 'new' }, preview?.ready ? 'Copy this rule' : 'Copy allow rule');
  const slot = h('div', { class: 'preview-slot' }, preview?.node);
  copy.addEventListener('click', () => {
    if (suggestion === undefined) return;
    const current = previews.get(group.host);
    if (current === undefined || current.suggestion !== suggestion || !current.ready) {
      // First click: explain what the rule would allow; copying takes a second click.
      copy.textContent = 'Explaining…';
      buildPreview(group, suggestion).then((node) => {
        previews.set(group.host, { suggestion, node, ready: true });
        slot.replaceChildren(node);
        copy.dataset.state = 'explained';
        copy.textContent = 'Copy this rule';
      }, (error: unknown) => {
        const node = h('p', { class: 'error' }, `Could not explain the rule: ${error instanceof ApiError ? error.message : String(error)}`);
        slot.replaceChildren(node);
        copy.textContent = 'Copy allow rule';
      });
      return;
    }
    void copyText(suggestion).then((ok) => {
      copy.textContent = ok ? 'Copied ✓' : 'Select and copy it by hand';
      window.setTimeout(() => { copy.textContent = 'Copy this rule'; }, 2000);
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
    suggestion !== undefined ? h('pre', { class: 'suggestion' }, suggestion) : undefined,
    suggestion !== undefined ? slot : undefined,
    suggestion !== undefined ? copy : undefined,
    group.note !== undefined ? h('p', { class: 'note' }, group.note) : undefined,
  );
};

/** Denied flows grouped by host, most denied first, each with an allow rule to explain and copy. */
export const mountDeniedView = (store: FlowStore, showHost: (host: string) => void): { render(): void; badge(): void } => {
  const container = byId('denied-groups');
  const badge = byId('denied-badge');
  const previews = new Map<string, Preview>();
  const groups = (): DeniedGroup[] => groupDeniedByHost(store.all());
  return {
    render() {
      const all = groups();
      container.replaceChildren(...(all.length === 0
        ? [h('p', { class: 'empty' }, 'Nothing denied in the buffer.')]
        : all.map((group) => card(group, previews, showHost))));
    },
    badge() {
      const hosts = groups().length;
      badge.hidden = hosts === 0;
      badge.textContent = String(hosts);
    },
  };
};
