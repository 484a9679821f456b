import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import { byPosition, problemAt, type ConfigProblem } from './config-problem.js';
import { deepFreeze } from './deep-freeze.js';
import { describeValue, issueMessage } from './issue-message.js';
import { resolveConfigPaths } from './resolve-config-paths.js';
import { ProxyConfigSchema, type ProxyConfig } from './schema.js';
import { yamlProblems } from './yaml-problems.js';
import { zodProblems } from './zod-problems.js';

export { formatProblem, type ConfigProblem } from './config-problem.js';
export { resolveConfigPaths } from './resolve-config-paths.js';

export type ConfigResult = { ok: true; config: ProxyConfig } | { ok: false; problems: ConfigProblem[] };

const invalid = (problems: ConfigProblem[]): ConfigResult => ({ ok: false, problems: [...problems].sort(byPosition) });

const validate = (data: unknown, fileName: string, doc: Document, lines: LineCounter): ConfigResult => {
  const result = ProxyConfigSchema.safeParse(data, { error: issueMessage });
  if (!result.success) return invalid(zodProblems(fileName, doc, lines, ProxyConfigSchema, result.error.issues));
  // zod hands out its default values by reference; clone so freezing never touches the schema.
  return { ok: true, config: deepFreeze(structuredClone(result.data)) };
};

/**
 * Parses and validates config text. Every problem found is reported with its line and key;
 * the config is returned deep-frozen, with paths as written (see resolveConfigPaths).
 */
export const parseConfigText = (text: string, fileName: string): ConfigResult => {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const yamlIssues = yamlProblems(fileName, doc, lines);
  if (yamlIssues.length > 0) return invalid(yamlIssues);

  // An empty file, or one holding only comments, means "all defaults".
  if (doc.contents === null) return validate({}, fileName, doc, lines);
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // e.g. yaml's guard against alias bombs ("Excessive alias count")
    return invalid([problemAt(fileName, lines, 0, '', (error as Error).message)]);
  }
  if (!isMap(doc.contents)) {
    return invalid([problemAt(fileName, lines, doc.contents.range?.[0] ?? 0, '',
      `the top level must be a mapping of keys such as listen: and rules:, got ${describeValue(data)}`)]);
  }
  return validate(data, fileName, doc, lines);
};

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'file not found',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a parent of this path is not a directory',
  ELOOP: 'too many symbolic links',
};

const readProblem = (file: string, error: unknown): ConfigProblem => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === undefined ? String(error) : `${READ_ERRORS[code] ?? (error as Error).message} (${code})`;
  return { file, line: 0, column: 0, key: '', message: `cannot read the config: ${reason}` };
};

/** Reads, validates and freezes a config file; relative paths in it are resolved against its directory. */
export const loadConfig = async (file: string): Promise<ConfigResult> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { ok: false, problems: [readProblem(file, error)] };
  }
  const result = parseConfigText(text, file);
  return result.ok ? { ok: true, config: resolveConfigPaths(result.config, path.dirname(file)) } : result;
};
