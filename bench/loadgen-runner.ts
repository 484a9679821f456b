/** Starts bench/loadgen.ts as its own (pinned) process: a timed run, or a holder of idle tunnels. */
import path from 'node:path';
import type { Janitor } from './janitor.js';
import type { HoldDone, LoadOptions, LoadResult } from './loadgen-types.js';
import { REPO_ROOT } from './peer-portcullis.js';
import { pinned, runCommand, shellLine, startProcess, type CpuPlan } from './procs.js';

const LOADGEN = path.join(REPO_ROOT, 'bench', 'loadgen.ts');

const commandFor = (cpus: CpuPlan, options: LoadOptions): [string, string[], string] => {
  const [cmd, args] = pinned(cpus, cpus.loadCpu, process.execPath, ['--import', 'tsx', LOADGEN, JSON.stringify(options)]);
  const display = shellLine(cmd, args).replace(process.execPath, 'node').replace(LOADGEN, 'bench/loadgen.ts');
  return [cmd, args, display];
};

export const runLoadgen = async (janitor: Janitor, cpus: CpuPlan, options: LoadOptions): Promise<{ result: LoadResult | undefined; problem: string; command: string }> => {
  const [cmd, args, command] = commandFor(cpus, options);
  const out = await runCommand(cmd, args, (options.durationSec + 40) * 1000, janitor);
  const line = /LOADGEN_RESULT (\{.*\})/.exec(out.stdout);
  if (!line?.[1]) return { result: undefined, problem: `loadgen failed (code ${out.code}${out.timedOut ? ', timed out' : ''}): ${out.stderr.trim().slice(0, 300)}`, command };
  return { result: JSON.parse(line[1]) as LoadResult, problem: '', command };
};

export interface Holder {
  readonly ok: number;
  readonly failed: number;
  readonly samples: string[];
  readonly command: string;
  stop(): Promise<void>;
  /**
   * Tells the holder to finish (SIGTERM to it alone), waits (bounded) for its HOLD_DONE report —
   * with verifyHeld, after one request over each open tunnel — then stops it.
   */
  finish(timeoutMs: number): Promise<HoldDone | undefined>;
}

/** Opens options.connections idle tunnels and resolves once they are all up (or failed). */
export const startHolder = async (janitor: Janitor, cpus: CpuPlan, options: LoadOptions): Promise<Holder> => {
  const [cmd, args, command] = commandFor(cpus, options);
  const proc = startProcess(janitor, 'tunnel-holder', cmd, args, { cwd: REPO_ROOT, stdin: 'pipe' });
  try {
    const match = await proc.waitFor(/HOLD_READY (\{.*\})/, 90_000);
    const ready = JSON.parse(match[1] ?? '{}') as { ok: number; failed: number; samples: string[] };
    const finish = async (timeoutMs: number): Promise<HoldDone | undefined> => {
      try {
        proc.child.kill('SIGTERM');
        const done = await proc.waitFor(/HOLD_DONE (\{.*\})/, timeoutMs);
        return JSON.parse(done[1] ?? '{}') as HoldDone;
      } catch {
        return undefined;
      } finally {
        await proc.stop(3000);
      }
    };
    return { ...ready, command, stop: () => proc.stop(3000), finish };
  } catch (err) {
    await proc.stop(1000);
    throw err;
  }
};
