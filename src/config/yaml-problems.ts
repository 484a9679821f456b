import { isAlias, isScalar, visit, type Document, type LineCounter, type YAMLError, type YAMLWarning } from 'yaml';
import { problemAt, type ConfigProblem } from './config-problem.js';
import { formatKeyPath } from './format-key-path.js';
import { yamlPathAtOffset } from './locate-yaml-path.js';

/** yaml's pretty messages end with " at line L, column C:" and a source excerpt; the problem carries the position. */
const firstLine = (message: string): string =>
  (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?\s*$/, '');

const fromYamlError = (file: string, doc: Document, lines: LineCounter, error: YAMLError | YAMLWarning): ConfigProblem => {
  const offset = error.pos[0];
  if (error.code === 'DUPLICATE_KEY') {
    const path = yamlPathAtOffset(doc, offset);
    const key = path.at(-1);
    return problemAt(file, lines, offset, formatKeyPath(path),
      `duplicate key ${JSON.stringify(String(key ?? ''))}; a key may appear only once in a mapping`);
  }
  return problemAt(file, lines, offset, '', firstLine(error.message));
};

/** Things valid YAML may hold that have no meaning as config: keys that are lists or maps, aliases without an anchor. */
const structureProblems = (file: string, doc: Document, lines: LineCounter): ConfigProblem[] => {
  const problems: ConfigProblem[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (pair.key === null || isScalar(pair.key) || isAlias(pair.key)) return;
      const offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? 0;
      // The walk stops at the non-scalar key, so this is the path of the mapping that holds it.
      problems.push(problemAt(file, lines, offset, formatKeyPath(yamlPathAtOffset(doc, offset)),
        'a key must be a plain name, not a list or mapping'));
    },
    Alias(_, alias) {
      if (alias.resolve(doc) === undefined) {
        problems.push(problemAt(file, lines, alias.range?.[0] ?? 0, '', `alias "*${alias.source}" has no anchor "&${alias.source}" before it`));
      }
    },
  });
  return problems;
};

/** Syntax errors, warnings (such as unknown tags) and structural problems; empty when the YAML can be converted to data. */
export const yamlProblems = (file: string, doc: Document, lines: LineCounter): ConfigProblem[] => {
  const syntax = [...doc.errors, ...doc.warnings].map((error) => fromYamlError(file, doc, lines, error));
  return syntax.length > 0 ? syntax : structureProblems(file, doc, lines);
};
