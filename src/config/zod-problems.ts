import type { Document, LineCounter } from 'yaml';
import type { z } from 'zod';
import { problemAt, type ConfigProblem } from './config-problem.js';
import { formatKeyPath } from './format-key-path.js';
import { knownKeysAt } from './known-keys-at.js';
import { locateYamlPath } from './locate-yaml-path.js';
import { suggestKey } from './suggest-key.js';

interface Context {
  readonly file: string;
  readonly doc: Document;
  readonly lines: LineCounter;
  readonly schema: z.core.$ZodType;
}

/** Of a union's failed alternatives, the one that got past the type check: its issues say what is really wrong. */
const closestBranch = (issue: z.core.$ZodIssueInvalidUnion): z.core.$ZodIssue[] | undefined =>
  issue.errors.find((branch) => branch.some((inner) => inner.path.length > 0 || inner.code !== 'invalid_type'));

const unknownKeys = (ctx: Context, path: PropertyKey[], keys: readonly string[]): ConfigProblem[] => {
  const known = knownKeysAt(ctx.schema, path);
  return keys.map((key) => {
    const location = locateYamlPath(ctx.doc, [...path, key]);
    const suggestion = suggestKey(key, known);
    const hint = suggestion === undefined ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`;
    return problemAt(ctx.file, ctx.lines, location.keyOffset ?? location.offset, formatKeyPath([...path, key]),
      `unknown key ${JSON.stringify(key)}${hint}`);
  });
};

const toProblems = (ctx: Context, issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): ConfigProblem[] =>
  issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') return unknownKeys(ctx, path, issue.keys);
    if (issue.code === 'invalid_union') {
      const branch = closestBranch(issue);
      if (branch !== undefined) return toProblems(ctx, branch, path);
    }
    return [problemAt(ctx.file, ctx.lines, locateYamlPath(ctx.doc, path).offset, formatKeyPath(path), issue.message)];
  });

/** Maps zod issues to problems with the file, line and dotted key of the YAML that caused them. */
export const zodProblems = (
  file: string, doc: Document, lines: LineCounter, schema: z.core.$ZodType, issues: readonly z.core.$ZodIssue[],
): ConfigProblem[] => toProblems({ file, doc, lines, schema }, issues, []);
