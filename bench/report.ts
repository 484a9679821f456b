/** Turns measurements into the Markdown report: machine, table, notes, run log, exact commands. */
import type { PeerId } from './peer.js';
import type { Metric, Scenario } from './scenarios.js';

export type TargetId = 'direct' | PeerId;

export type Cell =
  | { readonly kind: 'na'; readonly reason: string }
  | { readonly kind: 'value'; readonly values: Record<string, number>; readonly failedRuns: number; readonly runs: number };

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly cells: Map<TargetId, Cell>;
}

export interface Column {
  readonly id: TargetId;
  readonly label: string;
}

const formatNumber = (value: number, digits: number): string =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–';

const formatCell = (cell: Cell | undefined, metric: Metric): string => {
  if (!cell) return '–';
  if (cell.kind === 'na') return `n/a (${cell.reason})`;
  const text = formatNumber(cell.values[metric.key] ?? Number.NaN, metric.digits);
  return cell.failedRuns > 0 ? `${text} **FAILED** (${cell.failedRuns}/${cell.runs} runs with errors)` : text;
};

const valueOf = (cell: Cell | undefined, metric: Metric): number =>
  cell?.kind === 'value' && cell.failedRuns === 0 ? (cell.values[metric.key] ?? Number.NaN) : Number.NaN;

const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : '–');

const escape = (text: string): string => text.replace(/\|/g, '\\|');

export const renderTable = (results: readonly ScenarioResult[], columns: readonly Column[]): string => {
  const baseline = columns.find((c) => c.id === 'baseline');
  const header = ['Scenario', 'Metric', ...columns.map((c) => c.label), 'Portcullis / direct', 'Portcullis / Squid', ...(baseline ? [`Portcullis / ${baseline.label.replace(/^Portcullis /, '')}`] : [])];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const { scenario, cells } of results) {
    scenario.metrics.forEach((metric, index) => {
      const name = index === 0 ? `${scenario.id} ${scenario.title}` : scenario.id;
      const portcullis = valueOf(cells.get('portcullis'), metric);
      const row = [
        name,
        `${metric.label} (${metric.better} is better)`,
        ...columns.map((c) => (c.id === 'direct' && !scenario.hasDirect ? '–' : formatCell(cells.get(c.id), metric))),
        scenario.hasDirect ? ratio(portcullis, valueOf(cells.get('direct'), metric)) : '–',
        ratio(portcullis, valueOf(cells.get('squid'), metric)),
        ...(baseline ? [ratio(portcullis, valueOf(cells.get('baseline'), metric))] : []),
      ];
      lines.push(`| ${row.map(escape).join(' | ')} |`);
    });
  }
  return lines.join('\n');
};

export interface ReportParts {
  readonly title: string;
  readonly machine: ReadonlyArray<readonly [string, string]>;
  readonly setup: readonly string[];
  readonly table: string;
  readonly notes: readonly string[];
  readonly scenarios: readonly Scenario[];
  readonly runLog: readonly string[];
  readonly commands: readonly string[];
  readonly configs: ReadonlyArray<readonly [string, string]>;
}

export const renderReport = (p: ReportParts): string => {
  const out: string[] = [`# ${p.title}`, ''];
  out.push('## Machine', '', '| | |', '| --- | --- |', ...p.machine.map(([k, v]) => `| ${escape(k)} | ${escape(v)} |`), '');
  out.push('## Setup', '', ...p.setup.map((s) => `- ${s}`), '');
  out.push('## Results', '', p.table, '');
  if (p.notes.length > 0) out.push('Notes:', '', ...p.notes.map((n) => `- ${n}`), '');
  out.push('## Scenarios', '', ...p.scenarios.map((s) => `- **${s.id} ${s.title}**: ${s.description}`), '');
  out.push('## Run log', '', '```', ...p.runLog, '```', '');
  out.push('## Exact commands', '', '```', ...p.commands, '```', '');
  for (const [name, text] of p.configs) out.push(`${name} config:`, '', '```', text.trimEnd(), '```', '');
  return out.join('\n');
};
