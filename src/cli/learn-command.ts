import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { proposeRules, type LearnOptions } from '../learn/propose-rules.js';
import { renderProposal } from '../learn/render-proposal.js';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './cli-io.js';
import { readLogInput } from './log-input.js';

export interface LearnCommandOptions extends LearnOptions {
  /** Where to write the proposal; stdout when absent. */
  readonly output?: string;
  readonly skipBadLines?: boolean;
}

const n = (value: number): string => value.toLocaleString('en-US');

/** `portcullis learn LOG... [-o FILE]`: proposed rules from access logs (docs/learn.md). */
export const learnCommand = async (logs: readonly string[], options: LearnCommandOptions, io: CliIo): Promise<number> => {
  const input = await readLogInput(logs, io, { skipBadLines: options.skipBadLines === true });
  if (!input.ok) return input.exitCode;
  const proposal = proposeRules(input.requests, options);
  const text = renderProposal(proposal, {
    sources: logs.map((log) => (log === '-' ? 'LOG' : log)),
    label: logs.map((log) => (log === '-' ? 'standard input' : log)).join(', '),
    ...(options.output !== undefined ? { outputName: options.output } : {}),
  });
  if (options.output === undefined) {
    io.stdout.write(text);
  } else {
    try {
      await writeFile(path.resolve(io.cwd, options.output), text, { mode: 0o644 });
    } catch (error) {
      io.stderr.write(`${options.output}: cannot write the proposal: ${(error as Error).message}\n`);
      return EXIT_FAILURE;
    }
  }
  const { totals } = proposal;
  io.stderr.write(`learn: ${n(proposal.rules.length)} rule${proposal.rules.length === 1 ? '' : 's'} from ${n(totals.lines)} log lines: `
    + `${n(totals.covered)} covered, ${n(totals.held)} held back for review, ${n(totals.excluded)} never proposed`
    + `${options.output !== undefined ? ` -> ${options.output}` : ''}\n`);
  return EXIT_OK;
};
