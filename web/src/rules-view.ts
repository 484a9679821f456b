import type { RuleHits, RulesAnswer } from '../../src/admin/api-types.js';
import { ApiError, apiFetch, getJson } from './api.js';
import { byId, h } from './dom.js';
import { ago, count, dateTime } from './format.js';

const row = (name: HTMLElement | string, explain: string, hits: RuleHits, cls?: string): HTMLTableRowElement =>
  h('tr', { class: cls },
    h('td', { class: 'rule-name' }, name),
    h('td', { class: 'explain' }, explain),
    h('td', { class: 'num' }, count(hits.allowed)),
    h('td', { class: 'num' }, count(hits.denied)),
    h('td', { class: 'num' }, count(hits.wouldDeny)),
    h('td', { class: 'num' }, count(hits.wouldAllow)),
    h('td', {}, ago(hits.lastHitAt)));

/** The policy in force with per-rule hit counters (refreshed while shown), and a reload button. */
export const mountRulesView = (): { refresh(): Promise<void> } => {
  const tbody = byId<HTMLTableElement>('rules').tBodies[0] as HTMLTableSectionElement;
  const summary = byId('policy-summary');
  const result = byId('reload-result');
  const problems = byId('reload-problems');

  const refresh = async (): Promise<void> => {
    const answer = await getJson<RulesAnswer>('/api/rules');
    summary.replaceChildren(
      h('b', {}, `${answer.rules.length} allow rules`), `, default ${answer.default}`,
      answer.dryRun ? h('span', { class: 'dry-run' }, ' DRY RUN: denials are logged, not enforced') : '',
      h('span', { class: 'muted' }, ` · loaded ${dateTime(answer.loadedAt)}`));
    tbody.replaceChildren(
      ...answer.rules.map((rule) => row(rule.name, rule.explain.replace(/^(allow|report) [^:]+: /, ''), rule.hits)),
      row(h('i', {}, 'no rule'), 'denied by default: no rule came close (e.g. no-rule-matched)', answer.unmatched, 'default-row'),
      ...answer.removed.map((rule) => row(`${rule.name} (removed)`, 'no longer in the policy', rule.hits, 'removed-row')));
  };

  byId('reload').addEventListener('click', () => {
    result.textContent = 'reloading…';
    problems.hidden = true;
    void apiFetch('/api/reload', { method: 'POST' }).then(async (response) => {
      const body = (await response.json().catch(() => ({}))) as { rules?: number; error?: string; problems?: string[] };
      if (response.ok) {
        result.textContent = `reloaded: ${body.rules ?? '?'} rules in force`;
      } else {
        result.textContent = `refused: ${body.error ?? response.statusText}`;
        if (body.problems && body.problems.length > 0) {
          problems.textContent = body.problems.join('\n');
          problems.hidden = false;
        }
      }
      await refresh();
    }, (error: unknown) => {
      result.textContent = `reload failed: ${error instanceof ApiError ? error.message : String(error)}`;
    });
  });
  return { refresh };
};
