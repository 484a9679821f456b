import { exampleText } from './example-text.js';
import type { LoggedRequest } from './logged-request.js';
import { printable } from './render-proposal.js';
import type { ReplayGroup, ReplayReport } from './replay.js';
import type { ReplayGroupSummary, ReplaySummary } from './replay-summary.js';

export type { ReplayGroupSummary, ReplaySummary } from './replay-summary.js';

const EXAMPLES = 3;
const CLIENTS = 5;

const n = (value: number): string => value.toLocaleString('en-US');

/** A group's lines as "METHOD URL" with counts, most frequent first. */
const examples = (lines: readonly LoggedRequest[], limit: number): Array<{ text: string; count: number }> => {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const text = exampleText(line);
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit).map(([text, count]) => ({ text, count }));
};

const clients = (lines: readonly LoggedRequest[]): Array<{ client: string; count: number }> => {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line.client, (counts.get(line.client) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([client, count]) => ({ client, count }));
};

export const describeBefore = (group: ReplayGroup): string => {
  const { before } = group;
  if (before.wouldDeny) return `let through by dry run (would deny: ${before.reason ?? '?'}${before.rule !== undefined ? `, rule ${before.rule}` : ''})`;
  if (before.reason !== undefined) return `denied: ${before.reason}${before.rule !== undefined ? ` (rule ${before.rule})` : ''}`;
  return before.rule !== undefined ? `allowed by rule ${before.rule}` : 'allowed';
};

export const describeNow = (group: ReplayGroup): string => {
  const { now } = group;
  if (now.reason === undefined) return `allowed by rule ${now.rule ?? '?'}`;
  const who = now.rule !== undefined ? `closest rule ${now.rule}` : 'default deny';
  return `denied: ${now.reason} (${who})${now.wouldAllow !== undefined ? `; would allow: rule ${now.wouldAllow} (mode: report)` : ''}`;
};

const section = (title: string, groups: readonly ReplayGroup[]): string[] => {
  const total = groups.reduce((sum, group) => sum + group.lines.length, 0);
  if (total === 0) return [];
  const out = [`${title}: ${n(total)}`];
  for (const group of groups) {
    const who = clients(group.lines);
    const listed = who.slice(0, CLIENTS).map((c) => `${c.client} (${n(c.count)})`).join(', ');
    out.push(`  ${n(group.lines.length)} x was ${describeBefore(group)}; now ${describeNow(group)}`);
    out.push(`      from ${n(who.length)} client${who.length === 1 ? '' : 's'}: ${listed}${who.length > CLIENTS ? ', ...' : ''}`);
    for (const example of examples(group.lines, EXAMPLES)) out.push(`      ${example.count > 1 ? `${n(example.count)} x ` : ''}${example.text}`);
  }
  return out;
};

/** The report `portcullis replay` prints. */
export const formatReplay = (report: ReplayReport, candidate: string, rules: number): string => {
  const out = [`replay: ${n(report.total)} log lines against ${candidate} (${n(rules)} rule${rules === 1 ? '' : 's'})`];
  out.push(...section('Allowed before, denied now', report.newlyDenied));
  out.push(...section('Denied before, allowed now', report.newlyAllowed));
  out.push(...section('Spliced before, intercepted now (the requests inside were not logged, so they cannot be judged)', report.nowIntercepted));
  out.push(...section('Intercepted before, spliced now (the requests inside will pass unseen)', report.nowSpliced));
  const outside = [...report.notJudged].sort((a, b) => b[1] - a[1]).map(([reason, count]) => `${reason} ${n(count)}`);
  const notJudged = [...report.notJudged.values()].reduce((a, b) => a + b, 0);
  out.push(`Unchanged: ${n(report.unchanged.allowed)} allowed, ${n(report.unchanged.denied)} denied${
    notJudged > 0 ? `; ${n(notJudged)} decided by more than the rules, as before (${outside.join(', ')})` : ''}`);
  out.push(report.changed === 0 ? 'Nothing changes.' : `${n(report.changed)} line${report.changed === 1 ? '' : 's'} change.`);
  return `${out.map(printable).join('\n')}\n`;
};

const summarizeGroups = (groups: readonly ReplayGroup[]): ReplayGroupSummary[] =>
  groups.map((group) => ({
    before: describeBefore(group), now: describeNow(group), count: group.lines.length,
    clients: clients(group.lines).slice(0, CLIENTS * 2), examples: examples(group.lines, EXAMPLES * 2),
  }));

/** The report as JSON (`replay --json`, the dashboard's Propose view). */
export const summarizeReplay = (report: ReplayReport): ReplaySummary => ({
  total: report.total,
  changed: report.changed,
  newlyDenied: summarizeGroups(report.newlyDenied),
  newlyAllowed: summarizeGroups(report.newlyAllowed),
  nowIntercepted: summarizeGroups(report.nowIntercepted),
  nowSpliced: summarizeGroups(report.nowSpliced),
  unchanged: report.unchanged,
  notJudged: Object.fromEntries(report.notJudged),
});
