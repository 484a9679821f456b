import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCommand, type CommandResult } from './clients.js';

/** The project checkout these tests run from. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI, exactly as users run it (scripts/test.sh builds before the e2e tests). */
export const BIN = path.join(ROOT, 'bin', 'portcullis.js');

export const runCli = (args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CommandResult> =>
  runCommand(process.execPath, [BIN, ...args], { timeoutMs: options.timeoutMs ?? 20_000 });

export interface RunningCli {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Waits (bounded) until stderr or stdout matches; returns the match. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Peak resident set size so far, in KiB (VmHWM), from /proc. */
  peakRssKiB(): number;
  rssKiB(): number;
}

/** Starts `portcullis run ...` as a child process; killed in t.after if still running. */
export const startCli = (t: TestContext, args: readonly string[], cwd?: string): RunningCli =>
  startProgram(t, process.execPath, [BIN, 'run', ...args], { cwd: cwd ?? ROOT });

/**
 * Starts any program (an installed `portcullis`, the single executable) with the RunningCli
 * helpers; killed in t.after if still running.
 */
export const startProgram = (
  t: TestContext, file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {},
): RunningCli => {
  const child = spawn(file, args, {
    cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : { uid: options.uid }), ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const status = (field: string): number => {
    const text = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  };
  return {
    child,
    pid: child.pid ?? 0,
    stdout: () => out,
    stderr: () => err,
    async waitFor(pattern, stream = 'stderr', timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = (stream === 'stderr' ? err : out).match(pattern);
        if (match) return match;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`timed out waiting for ${pattern} on ${stream}\nstdout: ${out}\nstderr: ${err}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    peakRssKiB: () => status('VmHWM'),
    rssKiB: () => status('VmRSS'),
  };
};
