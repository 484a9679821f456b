import type { LoggedRequest } from './logged-request.js';
import { parseJsonLine } from './parse-json-line.js';
import { parseSquidLine } from './parse-squid-line.js';

export interface LogProblem {
  /** "file:line". */
  readonly source: string;
  readonly message: string;
}

export interface ParsedLog {
  readonly requests: LoggedRequest[];
  readonly problems: LogProblem[];
  /** Lines read, blank ones and DNS queries (nothing to learn from) included. */
  readonly lines: number;
}

/**
 * Parses access-log text, json or Squid, line by line (a line starting with "{" is json, any
 * other is Squid's layout, so a file may even mix them). Blank lines are skipped; a line that
 * is neither is a problem naming file and line. A last line without its newline is what a
 * writer leaves mid-write: it is skipped silently when it does not parse.
 */
export const parseAccessLogText = (text: string, name: string, into: ParsedLog = { requests: [], problems: [], lines: 0 }): ParsedLog => {
  const lines = text.split('\n');
  const unterminated = !text.endsWith('\n');
  let count = 0;
  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (index === lines.length - 1 && line === '') return;
    count += 1;
    if (line.trim() === '') return;
    const source = `${name}:${index + 1}`;
    const result = line.trimStart().startsWith('{') ? parseJsonLine(line, source) : parseSquidLine(line, source);
    if (result.ok) into.requests.push(result.request);
    else if (result.skip !== true && !(unterminated && index === lines.length - 1)) into.problems.push({ source, message: result.error });
  });
  return { requests: into.requests, problems: into.problems, lines: into.lines + count };
};
