/**
 * Measuring targets (direct and the proxies) in one scenario. Repeated scenarios interleave:
 * every target is started and warmed up, then run 1 of each, run 2 of each, and so on, so that
 * a drift of the machine (another tenant, CPU frequency) falls on every target alike instead of
 * on whichever ran last. Single-shot scenarios (S7, S8) get a fresh instance each, one by one.
 */
import { waitForQuiet, loadAverage } from './machine.js';
import type { RunOutcome } from './outcome.js';
import type { ProxyPeer, RunningProxy } from './peer.js';
import type { Cell, TargetId } from './report.js';
import type { BenchEnv, Scenario, Target } from './scenarios.js';
import { median } from './stats.js';

export const log = (message: string): void => { process.stderr.write(`[bench] ${message}\n`); };
export const firstLine = (err: unknown): string => ((err as Error).message ?? String(err)).split('\n')[0]?.slice(0, 120) ?? 'error';

export interface Collected {
  readonly runLog: string[];
  readonly commands: string[];
  readonly configs: Array<[string, string]>;
  readonly seenCommands: Set<string>;
}

export const noteCommand = (c: Collected, key: string, command: string): void => {
  if (c.seenCommands.has(key)) return;
  c.seenCommands.add(key);
  c.commands.push(`# ${key}`, command);
};

/** One target of a scenario: direct (no peer) or a proxy. */
export interface TargetSpec {
  readonly id: TargetId;
  readonly peer: ProxyPeer | undefined;
  readonly label: string;
}

interface Started {
  readonly spec: TargetSpec;
  readonly target: Target;
  readonly proxy: RunningProxy | undefined;
  readonly outcomes: RunOutcome[];
}

const safeRun = async (scenario: Scenario, env: BenchEnv, target: Target): Promise<RunOutcome> => {
  try {
    return await scenario.runOnce(env, target);
  } catch (err) {
    return { values: {}, errors: 1, detail: `run failed: ${firstLine(err)}`, command: '' };
  }
};

/** Starts a target's proxy (if any) and warms it up; a proxy that fails to start is an n/a cell. */
const start = async (scenario: Scenario, env: BenchEnv, spec: TargetSpec, collected: Collected): Promise<Started | Cell> => {
  const { peer, label } = spec;
  let proxy: RunningProxy | undefined;
  if (peer) {
    try {
      proxy = await peer.start({
        janitor: env.janitor, cpus: env.cpus, origin: env.origin, hosts: env.hosts, portcullisRoot: env.portcullisRoot,
        ...(scenario.intercept ? { intercept: env.interceptCa } : {}),
        ...(env.options.workers !== undefined ? { workers: env.options.workers } : {}),
      });
    } catch (err) {
      log(`${label} failed to start: ${(err as Error).message}`);
      collected.runLog.push(`${scenario.id} ${label}: failed to start: ${firstLine(err)}`);
      return { kind: 'na', reason: `failed to start: ${firstLine(err)}` };
    }
    const key = scenario.intercept ? `${label} with interception` : label;
    noteCommand(collected, `${key} (proxy, pinned)`, proxy.commandLine);
    if (!collected.configs.some(([name]) => name === key)) collected.configs.push([key, proxy.configText]);
  }
  const target: Target = { id: peer?.id ?? 'direct', proxy };
  if (scenario.warmup && env.options.warmupSec > 0) {
    await scenario.warmup(env, target).catch((err: unknown) => log(`${scenario.id} ${label} warm-up failed: ${firstLine(err)}`));
  }
  return { spec, target, proxy, outcomes: [] };
};

const runOne = async (scenario: Scenario, env: BenchEnv, started: Started, run: number, runs: number, collected: Collected): Promise<void> => {
  const { label } = started.spec;
  const quiet = await waitForQuiet(env.options.waitQuietSec);
  collected.runLog.push(`${scenario.id} ${label}: machine ${quiet.busy.toFixed(0)} % busy just before${quiet.waitedSec > 0 ? ` (after waiting ${quiet.waitedSec} s for < 20 %)` : ''}`);
  const outcome = await safeRun(scenario, env, started.target);
  started.outcomes.push(outcome);
  const line = `${scenario.id} ${label} run ${run}/${runs}: ${outcome.errors > 0 ? 'FAILED: ' : ''}${outcome.detail} [load avg ${loadAverage()}]`;
  log(line);
  collected.runLog.push(line);
  if (outcome.command) noteCommand(collected, `${scenario.id} ${label}`, outcome.command);
};

const cellOf = (scenario: Scenario, started: Started): Cell => {
  const values: Record<string, number> = {};
  for (const metric of scenario.metrics) values[metric.key] = median(started.outcomes.map((o) => o.values[metric.key] ?? Number.NaN));
  return { kind: 'value', values, failedRuns: started.outcomes.filter((o) => o.errors > 0).length, runs: started.outcomes.length };
};

/** Measures `targets` in one scenario; the cells come back keyed by target. */
export const measureScenario = async (scenario: Scenario, env: BenchEnv, targets: readonly TargetSpec[], collected: Collected): Promise<Map<TargetId, Cell>> => {
  const cells = new Map<TargetId, Cell>();
  const runs = scenario.repeated ? env.options.runs : 1;
  // Interleaved: all started, then round by round. One by one: each started, run and stopped in turn.
  const groups = scenario.repeated ? [targets] : targets.map((spec) => [spec]);
  for (const group of groups) {
    const running: Started[] = [];
    try {
      for (const spec of group) {
        log(`${scenario.id} ${scenario.title}: ${spec.label}`);
        const started = await start(scenario, env, spec, collected);
        if ('kind' in started) cells.set(spec.id, started);
        else running.push(started);
      }
      for (let run = 1; run <= runs; run++) {
        for (const started of running) await runOne(scenario, env, started, run, runs, collected);
      }
      for (const started of running) cells.set(started.spec.id, cellOf(scenario, started));
    } finally {
      await Promise.all(running.map((started) => started.proxy?.stop()));
    }
  }
  return cells;
};
