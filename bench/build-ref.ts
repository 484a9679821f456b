/**
 * `--portcullis-ref REF`: benchmark a committed version while the work tree is being edited.
 * Exports REF with `git archive` (read-only) into a temp dir, links this checkout's
 * node_modules, and builds it with tsc. Returns the directory and the full commit id.
 */
import { symlinkSync } from 'node:fs';
import path from 'node:path';
import type { Janitor } from './janitor.js';
import { runCommand } from './procs.js';

export const buildRef = async (janitor: Janitor, repoRoot: string, ref: string): Promise<{ dir: string; commit: string }> => {
  const commit = await runCommand('git', ['-C', repoRoot, 'rev-parse', '--verify', `${ref}^{commit}`], 10_000);
  if (commit.code !== 0) throw new Error(`unknown git ref ${ref}: ${commit.stderr.trim()}`);
  const id = commit.stdout.trim();
  const dir = janitor.tempDir('portcullis-ref');
  const exported = await runCommand('sh', ['-c', 'git -C "$0" archive "$1" | tar -x -C "$2"', repoRoot, id, dir], 60_000);
  if (exported.code !== 0) throw new Error(`git archive ${ref} failed: ${exported.stderr.trim()}`);
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const built = await runCommand(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.build.json')], 300_000, janitor);
  if (built.code !== 0) throw new Error(`building ${ref} failed: ${(built.stdout + built.stderr).trim().slice(0, 500)}`);
  return { dir, commit: id };
};
