/**
 * Hosts of a test in network namespaces: tools on PATH, commands with a time limit, and
 * background processes inside a namespace whose output a test can wait for. Used by
 * test/e2e/transparent-netns.test.ts and test/e2e/side-channels-netns.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { runCommand, type CommandResult } from './clients.js';

export const which = (tool: string): boolean =>
  ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin'].some((dir) => existsSync(path.join(dir, tool)));

export const run = (file: string, args: readonly string[], timeoutMs = 15_000): Promise<CommandResult> =>
  runCommand(file, args, { timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp' } });

export const must = async (file: string, args: readonly string[]): Promise<string> => {
  const result = await run(file, args);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
};

/** A background process inside a namespace, its output collected. */
export interface Background {
  readonly child: ChildProcess;
  output(): string;
  errors(): string;
  waitFor(pattern: RegExp, stream: 'stdout' | 'stderr', timeoutMs?: number, count?: number): Promise<void>;
}

export const startIn = (t: TestContext, namespace: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Background => {
  const child = spawn('ip', ['netns', 'exec', namespace, ...args], {
    ...(cwd === undefined ? {} : { cwd }), stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    output: () => out,
    errors: () => err,
    async waitFor(pattern, stream, timeoutMs = 10_000, count = 1) {
      const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (((stream === 'stdout' ? out : err).match(global) ?? []).length >= count) return;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`timed out waiting for ${pattern} (x${count}) on ${stream} of ${args.join(' ')}\nstdout: ${out}\nstderr: ${err}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
  };
};
