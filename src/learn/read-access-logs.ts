import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { LoggedRequest } from './logged-request.js';
import { parseAccessLogText, type LogProblem, type ParsedLog } from './parse-access-log.js';

export interface ReadLogsResult extends ParsedLog {
  /** Files that could not be read at all, with why. */
  readonly unreadable: LogProblem[];
}

const BATCH_BYTES = 1 << 20;

interface Sink {
  readonly requests: LoggedRequest[];
  readonly problems: LogProblem[];
  lines: number;
}

/** Parses whole lines of one file; `first` is the file's line number of the batch's first line. */
const parseBatch = (text: string, name: string, first: number, sink: Sink): number => {
  const parsed = parseAccessLogText(text, name, { requests: sink.requests, problems: [], lines: 0 });
  for (const problem of parsed.problems) {
    const line = Number(problem.source.slice(name.length + 1));
    sink.problems.push({ source: `${name}:${line + first - 1}`, message: problem.message });
  }
  sink.lines += parsed.lines;
  return parsed.lines;
};

/** Streams one file (gunzipped when it ends in .gz; "-" is standard input) through the line parser. */
const readOne = async (file: string, stdin: NodeJS.ReadableStream, sink: Sink): Promise<void> => {
  const name = file === '-' ? 'stdin' : file;
  const raw = file === '-' ? stdin : createReadStream(file);
  const stream = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  let pending = '';
  let next = 1;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (pending.length < BATCH_BYTES) continue;
    const cut = pending.lastIndexOf('\n');
    if (cut < 0) continue;
    next += parseBatch(pending.slice(0, cut + 1), name, next, sink);
    pending = pending.slice(cut + 1);
  }
  parseBatch(pending, name, next, sink);
};

const READ_ERRORS: Record<string, string> = { ENOENT: 'file not found', EACCES: 'permission denied', EISDIR: 'is a directory, not a file' };

/** Reads access logs (json or Squid, plain or .gz); every problem names its file and line. */
export const readAccessLogs = async (files: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): Promise<ReadLogsResult> => {
  const sink: Sink = { requests: [], problems: [], lines: 0 };
  const unreadable: LogProblem[] = [];
  for (const file of files) {
    try {
      await readOne(file, stdin, sink);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      unreadable.push({ source: file, message: `cannot read it: ${(code !== undefined ? READ_ERRORS[code] : undefined) ?? (error as Error).message}` });
    }
  }
  return { requests: sink.requests, problems: sink.problems, lines: sink.lines, unreadable };
};
