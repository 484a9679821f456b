import { Document, isMap, isSeq } from 'yaml';
import type { Proposal, ProposedRule, SetAside } from './proposal.js';

const MAX_GROUPS = 40;
const MAX_CLIENTS = 5;

/** Comments show log data (URLs a client chose): only printable ASCII reaches the file. */
export const printable = (text: string): string =>
  text.split('\n').map(printableLine).join('\n');

const printableLine = (text: string): string =>
  text.replace(/[^\x20-\x7e]/g, (ch) => {
    const code = ch.codePointAt(0) ?? 0;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });

const n = (value: number): string => value.toLocaleString('en-US');

const ruleObject = (rule: ProposedRule): Record<string, unknown> => ({
  name: rule.name,
  hosts: [...rule.hosts],
  ...(rule.ports !== undefined ? { ports: [...rule.ports] } : {}),
  ...(rule.methods !== undefined ? { methods: [...rule.methods] } : {}),
  ...(rule.paths !== undefined ? { paths: [...rule.paths] } : {}),
  ...(rule.clients !== undefined ? { clients: [...rule.clients] } : {}),
});

const setAsideLines = (title: string, groups: readonly SetAside[]): string[] => {
  if (groups.length === 0) return [];
  const lines = ['', title];
  for (const group of groups.slice(0, MAX_GROUPS)) {
    const clients = [...group.clients].sort((a, b) => b[1] - a[1]).slice(0, MAX_CLIENTS).map(([client, count]) => `${client} (${n(count)})`);
    const more = group.clients.size > MAX_CLIENTS ? `, and ${group.clients.size - MAX_CLIENTS} more` : '';
    lines.push(`  ${n(group.count)} x ${group.host}: ${group.why}; from ${clients.join(', ')}${more}`);
    for (const example of group.examples) lines.push(`      e.g. ${example}`);
  }
  if (groups.length > MAX_GROUPS) lines.push(`  and ${groups.length - MAX_GROUPS} more groups`);
  return lines;
};

export interface RenderOptions {
  /** Log files (or "the dashboard's flow buffer") the proposal was learned from. */
  readonly sources: readonly string[];
  /** File name to suggest in the replay command. */
  readonly outputName?: string;
  /** Where the lines came from, when that is not files ("the dashboard's flow buffer"). */
  readonly label?: string;
}

/**
 * The proposal as a config file: `rules:` and `default: deny`, every rule preceded by comments
 * saying what it covers and why it looks the way it does; what was not proposed is listed at
 * the end. `portcullis check` accepts it as it is.
 */
export const renderProposal = (proposal: Proposal, options: RenderOptions): string => {
  const { totals } = proposal;
  const doc = new Document({ rules: proposal.rules.map(ruleObject), default: 'deny' });
  const sources = options.sources.length > 0 ? options.sources.join(' ') : 'LOG';
  doc.commentBefore = printable([
    ` Proposed by "portcullis learn" from ${n(totals.lines)} log lines (${options.label ?? (options.sources.join(', ') || 'no files')}).`,
    ` Covered by the ${n(proposal.rules.length)} rule${proposal.rules.length === 1 ? '' : 's'} below: ${n(totals.covered)} lines. Held back for review: ${n(totals.held)}.`,
    ` Never proposed: ${n(totals.excluded)}. (Both are listed at the end of this file.)`,
    ' Review every rule, then see what it would change against the same traffic:',
    `   portcullis replay -c ${options.outputName ?? 'proposed.yaml'} ${sources}`,
    ' Then copy the rules into your config (it keeps listen, log, state_dir, ...) and check it:',
    `   portcullis check -c portcullis.yaml --lint ${sources}`,
  ].join('\n'));
  const rules = doc.get('rules', true);
  if (isSeq(rules)) {
    if (proposal.rules.length === 0) rules.flow = true;
    rules.items.forEach((item, index) => {
      const rule = proposal.rules[index];
      if (rule === undefined || !isMap(item)) return;
      item.commentBefore = printable(rule.notes.map((note) => ` ${note}`).join('\n'));
      for (const pair of item.items) if (isSeq(pair.value)) pair.value.flow = true;
    });
  }
  const footer = [
    ...setAsideLines(' Held back for review (not proposed: add them by hand if they are needed, or learn again with --include-denied):', proposal.held),
    ...setAsideLines(' Never proposed (bypass attempts, refusals outside the rules, blocked addresses, names that do not resolve):', proposal.excluded),
  ];
  if (footer.length > 0) doc.comment = printable(footer.slice(1).join('\n'));
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
};
