import type { FlowSummary } from './flow-view.js';

/**
 * The flow filter language shared by the dashboard's filter box and `GET /api/flows?q=`.
 * Pure (the dashboard bundles it): space-separated terms, all of which must match:
 *
 *   host:example      host contains "example"          status:403   status:4xx   status:0
 *   decision:deny     allow | deny | would-deny         rule:NAME    rule:-  (no rule)
 *   client:10.0.      client address starts with        method:POST  reason:path-not-allowed
 *   kind:tunnel       http | tunnel | dns               anything else: free text in URL,
 *   !term or -term    negates a term                    host, method, client, rule, reason, detail
 *
 * Values may be quoted ("two words"). Matching ignores case.
 */

export const FILTER_FIELDS = ['host', 'status', 'decision', 'rule', 'client', 'method', 'reason', 'kind'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number] | 'text';

export interface FilterTerm {
  readonly field: FilterField;
  /** Lowercased. */
  readonly value: string;
  readonly negate: boolean;
}

export interface FlowFilter {
  readonly terms: readonly FilterTerm[];
}

/** What a term can look at; a FlowSummary or FlowView has all of it. */
export type FilterableFlow = Pick<FlowSummary, 'host' | 'status' | 'decision' | 'rule' | 'client' | 'method' | 'reason' | 'kind' | 'url' | 'detail'>;

/** Splits on whitespace, keeping "quoted runs" (quotes may appear after `field:`) together. */
const tokenize = (text: string): string[] => {
  const tokens: string[] = [];
  let current = '';
  let quoted = false;
  let started = false;
  for (const ch of text) {
    if (ch === '"') {
      quoted = !quoted;
      started = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (started) tokens.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (started) tokens.push(current);
  return tokens;
};

const isField = (name: string): name is (typeof FILTER_FIELDS)[number] => (FILTER_FIELDS as readonly string[]).includes(name);

export const parseFlowFilter = (text: string): FlowFilter => {
  const terms: FilterTerm[] = [];
  for (let token of tokenize(text)) {
    let negate = false;
    if (token.length > 1 && (token.startsWith('!') || token.startsWith('-'))) {
      negate = true;
      token = token.slice(1);
    }
    const colon = token.indexOf(':');
    const name = colon > 0 ? token.slice(0, colon).toLowerCase() : '';
    if (isField(name)) terms.push({ field: name, value: token.slice(colon + 1).toLowerCase(), negate });
    else terms.push({ field: 'text', value: token.toLowerCase(), negate });
  }
  return { terms };
};

const matchStatus = (status: number, value: string): boolean => {
  if (/^[1-5]xx$/.test(value)) return Math.floor(status / 100) === Number(value[0]);
  if (value === '-' || value === 'none') return status === 0;
  return String(status) === value;
};

const lower = (text: string | undefined): string => (text ?? '').toLowerCase();

const matchTerm = (flow: FilterableFlow, term: FilterTerm): boolean => {
  const { value } = term;
  switch (term.field) {
    case 'host': return lower(flow.host).includes(value);
    case 'status': return matchStatus(flow.status, value);
    case 'decision': return flow.decision === value;
    case 'rule': return value === '-' || value === 'none' ? flow.rule === undefined : lower(flow.rule) === value;
    case 'client': return lower(flow.client.address).startsWith(value);
    case 'method': return lower(flow.method) === value;
    case 'reason': return lower(flow.reason) === value;
    case 'kind': return flow.kind === value;
    case 'text':
      return [flow.url, flow.host, flow.method, flow.client.address, flow.rule, flow.reason, flow.detail, String(flow.status)]
        .some((field) => lower(field).includes(value));
  }
};

export const matchesFlowFilter = (filter: FlowFilter, flow: FilterableFlow): boolean =>
  filter.terms.every((term) => matchTerm(flow, term) !== term.negate);
