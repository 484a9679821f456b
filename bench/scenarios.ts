/**
 * The scenarios: what each one measures, against direct and each proxy. A scenario's runOnce
 * returns one RunOutcome; bench.ts repeats it, takes medians and builds the table.
 */
import type { BenchOptions } from './args.js';
import { runDownload } from './curl-download.js';
import type { Janitor } from './janitor.js';
import type { LoadOptions } from './loadgen-types.js';
import { runLoadgen, startHolder } from './loadgen-runner.js';
import { LARGE_BYTES, LARGE_PATH, ORIGIN_NAME, SMALL_PATH, type Origin } from './origin.js';
import type { RunOutcome } from './outcome.js';
import type { PeerId, RunningProxy } from './peer.js';
import { commandExists, type CpuPlan } from './procs.js';
import { treeRssKiB } from './rss.js';
import { runWrk } from './wrk.js';

export interface BenchEnv {
  readonly cpus: CpuPlan;
  readonly origin: Origin;
  readonly janitor: Janitor;
  readonly options: BenchOptions;
  readonly scratchDir: string;
}

export interface Target {
  readonly id: 'direct' | PeerId;
  readonly proxy: RunningProxy | undefined;
}

export interface Metric {
  readonly key: string;
  readonly label: string;
  readonly better: 'higher' | 'lower';
  readonly digits: number;
}

export interface Scenario {
  readonly id: string;
  readonly title: string;
  /** What it measures, for the report and docs. */
  readonly description: string;
  readonly metrics: readonly Metric[];
  readonly hasDirect: boolean;
  /** false: measured once (not a throughput scenario). */
  readonly repeated: boolean;
  /** undefined when runnable, else why every cell is n/a. */
  unavailable(): string | undefined;
  warmup?(env: BenchEnv, target: Target): Promise<void>;
  runOnce(env: BenchEnv, target: Target): Promise<RunOutcome>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const loadOptions = (env: BenchEnv, target: Target, extra: Pick<LoadOptions, 'tls' | 'originPort' | 'newConnectionPerRequest'>, durationSec: number): LoadOptions => ({
  kind: 'run',
  mode: target.proxy ? 'connect' : 'direct',
  proxyPort: target.proxy?.port,
  caFile: env.origin.caFile,
  servername: ORIGIN_NAME,
  path: SMALL_PATH,
  connections: env.options.connections,
  durationSec,
  timeoutMs: 5000,
  ...extra,
});

const loadgenOutcome = async (env: BenchEnv, options: LoadOptions): Promise<RunOutcome> => {
  const { result, problem, command } = await runLoadgen(env.cpus, options);
  if (!result) return { values: {}, errors: 1, detail: problem, command };
  const kinds = Object.entries(result.errorKinds).map(([k, v]) => `${k} ${v}`).join(', ');
  const statuses = Object.entries(result.statuses).map(([k, v]) => `${k}: ${v}`).join(', ');
  return {
    values: { rps: result.rps, p50: result.p50Ms, p99: result.p99Ms },
    errors: result.non200 + result.errors,
    detail: `${result.requests} responses (${statuses || 'none'}) in ${result.elapsedSec} s over ${result.connections} connections = ${result.rps.toFixed(0)}/s; ` +
      `errors ${result.errors}${kinds ? ` (${kinds})` : ''}${result.errorSamples.length ? `; e.g. ${result.errorSamples[0]}` : ''}`,
    command,
  };
};

const RPS: Metric = { key: 'rps', label: 'req/s', better: 'higher', digits: 0 };
const P50: Metric = { key: 'p50', label: 'p50 latency (ms)', better: 'lower', digits: 2 };
const P99: Metric = { key: 'p99', label: 'p99 latency (ms)', better: 'lower', digits: 2 };
const MBPS: Metric = { key: 'mbps', label: 'MB/s (10^6 B/s)', better: 'higher', digits: 0 };

const s1: Scenario = {
  id: 'S1',
  title: 'plain HTTP, 1 KiB, keep-alive',
  description: 'wrk (-t1 -c50 --latency, keep-alive) sends GET /1k; through a proxy as absolute-form requests (`GET http://127.0.0.1:ORIGIN/1k`), direct to nginx as origin-form.',
  metrics: [RPS, P50, P99],
  hasDirect: true,
  repeated: true,
  unavailable: () => (commandExists('wrk') ? undefined : 'wrk not installed'),
  async warmup(env, target) {
    await runWrk({ cpus: env.cpus, scriptDir: env.scratchDir, originPort: env.origin.httpPort, path: SMALL_PATH, proxyPort: target.proxy?.port, connections: env.options.connections, durationSec: env.options.warmupSec });
  },
  runOnce: (env, target) => runWrk({
    cpus: env.cpus, scriptDir: env.scratchDir, originPort: env.origin.httpPort, path: SMALL_PATH,
    proxyPort: target.proxy?.port, connections: env.options.connections, durationSec: env.options.durationSec,
  }),
};

const s2: Scenario = {
  id: 'S2',
  title: 'HTTPS in a CONNECT tunnel, 1 KiB, keep-alive',
  description: 'Node load generator: 50 connections, each sends CONNECT once, does a TLS handshake with nginx through the tunnel, then GET /1k one at a time (keep-alive, no pipelining) until the time is up. Direct: the same TLS connections straight to nginx.',
  metrics: [RPS, P50, P99],
  hasDirect: true,
  repeated: true,
  unavailable: () => undefined,
  async warmup(env, target) {
    await runLoadgen(env.cpus, loadOptions(env, target, { tls: true, originPort: env.origin.httpsPort, newConnectionPerRequest: false }, env.options.warmupSec));
  },
  runOnce: (env, target) =>
    loadgenOutcome(env, loadOptions(env, target, { tls: true, originPort: env.origin.httpsPort, newConnectionPerRequest: false }, env.options.durationSec)),
};

const s3: Scenario = {
  id: 'S3',
  title: 'new CONNECT tunnel per request',
  description: 'Node load generator: 50 concurrent loops of connect -> CONNECT -> GET /1k (plain HTTP inside the tunnel, `Connection: close`) -> close. Measures tunnels set up per second; latency is from TCP connect to the end of the response. Direct: a new TCP connection to nginx per request.',
  metrics: [{ ...RPS, label: 'tunnels/s (direct: connections/s)' }, P50, P99],
  hasDirect: true,
  repeated: true,
  unavailable: () => undefined,
  async warmup(env, target) {
    await runLoadgen(env.cpus, loadOptions(env, target, { tls: false, originPort: env.origin.httpPort, newConnectionPerRequest: true }, env.options.warmupSec));
  },
  runOnce: (env, target) =>
    loadgenOutcome(env, loadOptions(env, target, { tls: false, originPort: env.origin.httpPort, newConnectionPerRequest: true }, env.options.durationSec)),
};

const download = (tunnel: boolean) => (env: BenchEnv, target: Target): Promise<RunOutcome> =>
  runDownload({
    cpus: env.cpus,
    url: `http://127.0.0.1:${env.origin.httpPort}${LARGE_PATH}`,
    expectedBytes: LARGE_BYTES,
    proxyPort: target.proxy?.port,
    tunnel,
  });

const s6a: Scenario = {
  id: 'S6a',
  title: '100 MiB download, plain HTTP through the proxy',
  description: '`curl -o /dev/null -w %{speed_download} -x PROXY http://127.0.0.1:ORIGIN/100m` (direct: without -x); status 200 and the full size are checked.',
  metrics: [MBPS],
  hasDirect: true,
  repeated: true,
  unavailable: () => (commandExists('curl') ? undefined : 'curl not installed'),
  runOnce: download(false),
};

const s6b: Scenario = {
  id: 'S6b',
  title: '100 MiB download through a CONNECT tunnel',
  description: '`curl -p -x PROXY http://127.0.0.1:ORIGIN/100m`: curl opens a CONNECT tunnel and fetches the file through it (direct: without a proxy).',
  metrics: [MBPS],
  hasDirect: true,
  repeated: true,
  unavailable: () => (commandExists('curl') ? undefined : 'curl not installed'),
  runOnce: download(true),
};

const s7: Scenario = {
  id: 'S7',
  title: 'memory: idle and with idle CONNECT tunnels',
  description: 'VmRSS summed over the proxy\'s process tree (from /proc) after start, then with N idle CONNECT tunnels open to nginx\'s plain port (opened 100 at a time by the load generator, each answered 200); KiB per tunnel = growth / tunnels. A fresh proxy instance is used.',
  metrics: [
    { key: 'idleMiB', label: 'RSS idle (MiB)', better: 'lower', digits: 1 },
    { key: 'loadedMiB', label: 'RSS with idle tunnels (MiB)', better: 'lower', digits: 1 },
    { key: 'kibPerTunnel', label: 'KiB per idle tunnel', better: 'lower', digits: 1 },
  ],
  hasDirect: false,
  repeated: false,
  unavailable: () => undefined,
  async runOnce(env, target) {
    const proxy = target.proxy;
    if (!proxy) throw new Error('S7 needs a proxy');
    await sleep(1500);
    const idle = treeRssKiB(proxy.pid);
    const holder = await startHolder(env.janitor, env.cpus, {
      kind: 'hold', mode: 'connect', proxyPort: proxy.port, originPort: env.origin.httpPort, tls: false,
      servername: ORIGIN_NAME, path: SMALL_PATH, connections: env.options.tunnels, durationSec: 0,
      newConnectionPerRequest: false, timeoutMs: 20_000, holdSeconds: 120,
    });
    try {
      await sleep(2000);
      const loaded = treeRssKiB(proxy.pid);
      const perTunnel = holder.ok > 0 ? (loaded.kib - idle.kib) / holder.ok : Number.NaN;
      return {
        values: { idleMiB: idle.kib / 1024, loadedMiB: loaded.kib / 1024, kibPerTunnel: perTunnel },
        errors: holder.failed,
        detail: `idle ${idle.kib} KiB (${idle.processes} process(es)); ${holder.ok} tunnels open, ${holder.failed} failed${holder.samples[0] ? ` (e.g. ${holder.samples[0]})` : ''}; ` +
          `loaded ${loaded.kib} KiB (${loaded.processes} process(es))`,
        command: holder.command,
      };
    } finally {
      await holder.stop();
    }
  },
};

export const ALL_SCENARIOS: readonly Scenario[] = [s1, s2, s3, s6a, s6b, s7];
