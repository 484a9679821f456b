import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { locateYamlPath } from '../config/locate-yaml-path.js';
import type { LintFinding } from '../learn/lint-policy.js';

/** `file:line rules[i] (name): message`, the line of each rule found in the YAML source. */
export const formatLintFindings = async (file: string, findings: readonly LintFinding[]): Promise<string[]> => {
  let lineOf = (_index: number): number => 0;
  try {
    const lines = new LineCounter();
    const doc = parseDocument(await readFile(file, 'utf8'), { lineCounter: lines });
    lineOf = (index) => {
      const at = locateYamlPath(doc, ['rules', index]);
      return at.found ? lines.linePos(at.offset).line : 0;
    };
  } catch {
    // the file was just read by loadConfig; without it, findings still name the rule
  }
  return findings.map((finding) => {
    const line = lineOf(finding.index);
    return `${line > 0 ? `${file}:${line}` : file} rules[${finding.index}] (${finding.rule}): ${finding.message} [${finding.code}]`;
  });
};
