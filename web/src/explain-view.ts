import type { ExplainResult } from '../../src/admin/api-types.js';
import type { Decision } from '../../src/policy/decision.js';
import { ApiError, getJson } from './api.js';
import { byId, h } from './dom.js';
import { decisionBadge } from './flow-row.js';

const stage = (name: string, decision: Decision): HTMLElement =>
  h('div', { class: 'stage' },
    h('span', { class: 'stage-name' }, name),
    decisionBadge(decision.verdict),
    h('span', {}, decision.verdict === 'allow'
      ? ` by rule "${decision.rule}"${decision.intercept ? ' (intercepted: each request inside is checked)' : ''}`
      : ` ${decision.reason}${decision.rule ? ` (closest rule "${decision.rule}")` : ' (default: deny)'}`),
    decision.verdict === 'deny' && decision.detail ? h('div', { class: 'muted' }, decision.detail) : undefined,
    decision.verdict === 'deny' && decision.wouldAllow !== undefined
      ? h('div', { class: 'would-allow' }, `would allow: rule "${decision.wouldAllow}" (mode: report, not enforced)`) : undefined);

/** Tests a URL against the policy in force (GET /api/explain), like `portcullis explain`. */
export const mountExplainView = (): { explain(method: string, url: string, client: string, sni?: string): void } => {
  const form = byId<HTMLFormElement>('explain-form');
  const method = byId<HTMLSelectElement>('explain-method');
  const url = byId<HTMLInputElement>('explain-url');
  const client = byId<HTMLInputElement>('explain-client');
  const sni = byId<HTMLInputElement>('explain-sni');
  const output = byId('explain-result');

  const run = (): void => {
    const query = new URLSearchParams({ method: method.value, url: url.value, client: client.value || '127.0.0.1' });
    if (sni.value.trim() !== '') query.set('sni', sni.value.trim());
    output.replaceChildren(h('p', { class: 'muted' }, 'asking…'));
    getJson<ExplainResult>(`/api/explain?${query}`).then((result) => {
      if (!result.ok) return;
      output.replaceChildren(...[
        h('div', { class: `verdict verdict-${result.verdict}` }, result.verdict === 'allow' ? 'Allowed' : 'Denied'),
        ...result.stages.map((s) => stage(s.stage === 'tunnel' ? 'CONNECT tunnel' : 'request', s.decision)),
        result.spliced ? h('p', { class: 'muted' }, 'Not decrypted (spliced): every request through this tunnel passes.') : undefined,
        result.dryRun && result.verdict === 'deny' ? h('p', { class: 'dry-run' }, 'dry_run is on: the proxy would log this denial and let it pass.') : undefined,
      ].filter((element): element is HTMLElement => element !== undefined));
    }, (error: unknown) => {
      output.replaceChildren(h('p', { class: 'error' }, error instanceof ApiError ? error.message : String(error)));
    });
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run();
  });
  return {
    explain(m, u, c, s) {
      if (![...method.options].some((option) => option.value === m)) method.append(h('option', {}, m));
      method.value = m;
      url.value = u;
      client.value = c;
      sni.value = s ?? '';
      run();
    },
  };
};
