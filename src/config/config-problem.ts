import type { LineCounter } from 'yaml';

/** One thing wrong with a config file. `line` and `column` are 1-based; line 0 means the file as a whole. */
export interface ConfigProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Dotted path of the offending key, e.g. `rules[0].hosts[1]`; '' when no key applies. */
  readonly key: string;
  readonly message: string;
}

/** A problem at a source offset, with line and column from the parse's line counter. */
export const problemAt = (file: string, lines: LineCounter, offset: number, key: string, message: string): ConfigProblem => {
  const { line, col } = lines.linePos(offset);
  return { file, line, column: col, key, message };
};

/** `portcullis.yaml:12 rules[0].hosts[1]: message`, the line `portcullis check` prints. */
export const formatProblem = (problem: ConfigProblem): string => {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}` : problem.file;
  return problem.key === '' ? `${where}: ${problem.message}` : `${where} ${problem.key}: ${problem.message}`;
};

export const byPosition = (a: ConfigProblem, b: ConfigProblem): number => a.line - b.line || a.column - b.column;
