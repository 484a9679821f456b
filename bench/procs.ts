/**
 * Child processes of the benchmark: spawned in their own process group (so a daemon's helpers
 * die with it), optionally pinned to a CPU with taskset, output captured, always stopped in
 * bounded time, and registered with the Janitor so a failure or a signal still cleans up.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import net from 'node:net';
import type { Janitor } from './janitor.js';

const OUTPUT_LIMIT = 64 * 1024;

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The command line as a shell would show it (for the report). */
  readonly commandLine: string;
  /** Captured stdout+stderr (last 64 KiB). */
  output(): string;
  exited(): boolean;
  /** Waits (bounded) until the output matches; throws with the output on timeout or exit. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM to the process group, SIGKILL after graceMs; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export const commandExists = (cmd: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** CPU pinning plan: load generators on one core, proxies on the others, when there are enough. */
export interface CpuPlan {
  readonly enabled: boolean;
  /** taskset CPU list for the proxies, e.g. "0" or "0-1". */
  readonly proxyCpu: string;
  /** taskset CPU list for load generators and the origin. */
  readonly loadCpu: string;
  readonly description: string;
}

/**
 * `proxyProcesses` CPUs for the proxy (1 unless the run asks for N workers per proxy), one for
 * the load generator and origin; with fewer CPUs than that, nothing is pinned and all share.
 */
export const planCpus = (proxyProcesses = 1): CpuPlan => {
  const cpus = availableParallelism();
  if (cpus >= proxyProcesses + 1 && commandExists('taskset')) {
    const proxyCpu = proxyProcesses === 1 ? '0' : `0-${proxyProcesses - 1}`;
    const loadCpu = String(proxyProcesses);
    return {
      enabled: true,
      proxyCpu,
      loadCpu,
      description: `proxies pinned to CPU ${proxyCpu} (\`taskset -c ${proxyCpu}\`); load generators (wrk, the Node load generator, curl) and the nginx origin pinned to CPU ${loadCpu} (\`taskset -c ${loadCpu}\`)`,
    };
  }
  return {
    enabled: false, proxyCpu: '0', loadCpu: '0',
    description: `no CPU pinning (${cpus} CPU(s)${proxyProcesses > 1 ? ` for ${proxyProcesses} proxy processes plus the load` : ''}${commandExists('taskset') ? '' : ', or no taskset'}): load generator, origin and proxies share the CPUs`,
  };
};

/** Prefixes `taskset -c CPU` when pinning is enabled. */
export const pinned = (plan: CpuPlan, cpu: string, cmd: string, args: readonly string[]): [string, string[]] =>
  plan.enabled ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, [...args]];

const quote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
export const shellLine = (cmd: string, args: readonly string[]): string => [cmd, ...args].map(quote).join(' ');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const startProcess = (
  janitor: Janitor,
  name: string,
  cmd: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: 'ignore' | 'pipe' } = {},
): ManagedProcess => {
  const child = spawn(cmd, [...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true, // own process group: stop() signals the whole group
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (chunk: string): void => {
    out += chunk;
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);
  let spawnError: Error | undefined;
  child.on('error', (err) => { spawnError = err; append(`\n[spawn error] ${err.message}\n`); });
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const isExited = (): boolean => child.exitCode !== null || child.signalCode !== null || spawnError !== undefined;
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try { process.kill(-child.pid, signal); } catch { /* already gone */ }
  };
  const stop = async (graceMs = 5000): Promise<void> => {
    if (!isExited()) {
      signalGroup('SIGTERM');
      const timedOut = await Promise.race([exitedPromise.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut) {
        signalGroup('SIGKILL');
        await Promise.race([exitedPromise, sleep(2000)]);
      }
    }
    // Helpers left in the group (e.g. squid's log daemon) go too.
    signalGroup('SIGKILL');
  };
  const forget = janitor.addProcess(name, () => signalGroup('SIGKILL'), stop);
  void exitedPromise.then(() => { if (child.pid !== undefined) { try { process.kill(-child.pid, 0); } catch { forget(); } } });
  return {
    name,
    pid: child.pid ?? -1,
    child,
    commandLine: shellLine(cmd, args),
    output: () => out,
    exited: isExited,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = out.match(pattern);
        if (match) return match;
        if (isExited()) throw new Error(`${name} exited (code ${child.exitCode}, signal ${child.signalCode}) before printing ${pattern}:\n${out.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`${name} did not print ${pattern} within ${timeoutMs} ms:\n${out.slice(-2000)}`);
        await sleep(20);
      }
    },
    stop,
  };
};

/** Runs a command to completion with a hard time limit; never throws. */
export const runCommand = (
  cmd: string,
  args: readonly string[],
  timeoutMs: number,
  janitor?: Janitor,
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> =>
  new Promise((resolve) => {
    const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (): void => { try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
    const forget = janitor?.addProcess(cmd, killGroup, async () => killGroup()) ?? ((): void => {});
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => { if (stdout.length < 4 * OUTPUT_LIMIT) stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { if (stderr.length < OUTPUT_LIMIT) stderr += c; });
    const timer = setTimeout(() => {
      timedOut = true;
      try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); forget(); resolve({ code: null, stdout, stderr: `${stderr}${err.message}`, timedOut }); });
    child.on('close', (code) => { clearTimeout(timer); forget(); resolve({ code, stdout, stderr, timedOut }); });
  });

/** A port that was free a moment ago on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

/** Waits (bounded) until 127.0.0.1:port accepts a TCP connection. */
export const waitForPort = async (port: number, timeoutMs: number, proc?: ManagedProcess): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const done = (v: boolean): void => { socket.destroy(); resolve(v); };
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
      socket.setTimeout(1000, () => done(false));
    });
    if (ok) return;
    if (proc?.exited()) throw new Error(`${proc.name} exited before listening on ${port}:\n${proc.output().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms${proc ? `:\n${proc.output().slice(-2000)}` : ''}`);
    await sleep(50);
  }
};
