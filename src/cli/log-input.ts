import type { LoggedRequest } from '../learn/logged-request.js';
import { readAccessLogs } from '../learn/read-access-logs.js';
import { EXIT_USAGE, type CliIo } from './cli-io.js';

const SHOWN_PROBLEMS = 10;

export interface LogInputOptions {
  /** Go on past lines that are neither json nor Squid (they are still reported). */
  readonly skipBadLines?: boolean;
}

/**
 * Reads the access logs a command was given; reports unreadable files and bad lines as
 * "file:line: problem" on stderr. Returns the requests, or the exit code for bad input.
 */
export const readLogInput = async (
  files: readonly string[], io: CliIo, options: LogInputOptions = {},
): Promise<{ ok: true; requests: LoggedRequest[]; lines: number } | { ok: false; exitCode: number }> => {
  const read = await readAccessLogs(files, io.stdin ?? process.stdin);
  for (const problem of read.unreadable) io.stderr.write(`${problem.source}: ${problem.message}\n`);
  for (const problem of read.problems.slice(0, SHOWN_PROBLEMS)) io.stderr.write(`${problem.source}: ${problem.message}\n`);
  if (read.problems.length > SHOWN_PROBLEMS) io.stderr.write(`... and ${read.problems.length - SHOWN_PROBLEMS} more lines that are neither json nor Squid log lines\n`);
  if (read.unreadable.length > 0) return { ok: false, exitCode: EXIT_USAGE };
  if (read.problems.length > 0 && options.skipBadLines !== true) {
    io.stderr.write(`${read.problems.length} line${read.problems.length === 1 ? '' : 's'} could not be read; fix the input or pass --skip-bad-lines\n`);
    return { ok: false, exitCode: EXIT_USAGE };
  }
  if (read.requests.length === 0) {
    io.stderr.write(`no access-log lines in ${files.join(', ')} (json or Squid format)\n`);
    return { ok: false, exitCode: EXIT_USAGE };
  }
  return { ok: true, requests: read.requests, lines: read.lines };
};
