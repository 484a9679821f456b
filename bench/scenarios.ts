/**
 * The scenarios: what each one measures, against direct and each proxy. A scenario's runOnce
 * returns one RunOutcome; bench.ts repeats it, takes medians and builds the table.
 */
import type { BenchOptions } from './args.js';
import { treeCpuMs } from './cpu.js';
import { runDownload } from './curl-download.js';
import type { InterceptCa } from './intercept-ca.js';
import type { Janitor } from './janitor.js';
import type { LoadOptions } from './loadgen-types.js';
import { runLoadgen, startHolder } from './loadgen-runner.js';
import { FIRST_CONTACT_HOSTS, firstContactHost, LARGE_BYTES, LARGE_PATH, ORIGIN_NAME, SMALL_PATH, type Origin } from './origin.js';
import type { RunOutcome } from './outcome.js';
import type { PeerId, RunningProxy } from './peer.js';
import type { PrivateHosts } from './private-hosts.js';
import { commandExists, type CpuPlan } from './procs.js';
import { treeRssKiB } from './rss.js';
import { runWrk } from './wrk.js';

export interface BenchEnv {
  readonly cpus: CpuPlan;
  readonly origin: Origin;
  readonly janitor: Janitor;
  readonly options: BenchOptions;
  readonly scratchDir: string;
  readonly hosts: PrivateHosts;
  readonly portcullisRoot: string;
  /** The CA the intercepting proxies sign with (S4, S5, S8); the load generator trusts it. */
  readonly interceptCa: InterceptCa;
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
  /**
   * Derived after all targets ran: this target's value of the named metric minus the direct
   * column's (e.g. S8's first-contact overhead). Not shown for direct.
   */
  readonly minusDirect?: string;
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
  /** true: the proxies run with TLS interception (peers that cannot intercept are n/a). */
  readonly intercept?: boolean;
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
  authorityHost: ORIGIN_NAME,
  path: SMALL_PATH,
  connections: env.options.connections,
  durationSec,
  timeoutMs: 5000,
  ...extra,
});

const loadgenOutcome = async (env: BenchEnv, options: LoadOptions): Promise<RunOutcome> => {
  const { result, problem, command } = await runLoadgen(env.janitor, env.cpus, options);
  if (!result) return { values: {}, errors: 1, detail: problem, command };
  const kinds = Object.entries(result.errorKinds).map(([k, v]) => `${k} ${v}`).join(', ');
  const statuses = Object.entries(result.statuses).map(([k, v]) => `${k}: ${v}`).join(', ');
  return {
    values: { rps: result.rps, p50: result.p50Ms, p99: result.p99Ms, requests: result.requests, ...(result.maxMs !== undefined ? { max: result.maxMs } : {}) },
    errors: result.non200 + result.errors,
    detail: `${result.requests} responses (${statuses || 'none'}) in ${result.elapsedSec} s over ${result.connections} connections = ${result.rps.toFixed(0)}/s; ` +
      `${result.resumed !== undefined ? `${result.resumed} TLS handshakes resumed; ` : ''}errors ${result.errors}${kinds ? ` (${kinds})` : ''}${result.errorSamples.length ? `; e.g. ${result.errorSamples[0]}` : ''}`,
    command,
  };
};

/**
 * Runs `run` and adds `cpuUs`: the proxy process tree's CPU time (user + system, from
 * /proc/PID/stat) during the run ÷ the responses counted (the run's `requests` value).
 */
const withProxyCpu = async (target: Target, run: () => Promise<RunOutcome>): Promise<RunOutcome> => {
  const pid = target.proxy?.pid;
  const before = pid !== undefined ? treeCpuMs(pid) : Number.NaN;
  const outcome = await run();
  if (pid === undefined) return outcome;
  const usedMs = treeCpuMs(pid) - before;
  const requests = outcome.values.requests ?? Number.NaN;
  const perRequestUs = requests > 0 ? (usedMs * 1000) / requests : Number.NaN;
  return {
    ...outcome,
    values: { ...outcome.values, cpuUs: perRequestUs },
    detail: `${outcome.detail}; proxy CPU ${usedMs.toFixed(0)} ms = ${perRequestUs.toFixed(0)} µs per response`,
  };
};

const RPS: Metric = { key: 'rps', label: 'req/s', better: 'higher', digits: 0 };
const P50: Metric = { key: 'p50', label: 'p50 latency (ms)', better: 'lower', digits: 2 };
const P99: Metric = { key: 'p99', label: 'p99 latency (ms)', better: 'lower', digits: 2 };
const MBPS: Metric = { key: 'mbps', label: 'MB/s (10^6 B/s)', better: 'higher', digits: 0 };
const CPU: Metric = { key: 'cpuUs', label: 'proxy CPU per request (µs)', better: 'lower', digits: 0 };

const s1: Scenario = {
  id: 'S1',
  title: 'plain HTTP, 1 KiB, keep-alive',
  description: 'wrk (-t1 -c50 --latency, keep-alive) sends GET /1k; through a proxy as absolute-form requests (`GET http://127.0.0.1:ORIGIN/1k`), direct to nginx as origin-form.',
  metrics: [RPS, P50, P99, CPU],
  hasDirect: true,
  repeated: true,
  unavailable: () => (commandExists('wrk') ? undefined : 'wrk not installed'),
  async warmup(env, target) {
    await runWrk({ janitor: env.janitor, cpus: env.cpus, scriptDir: env.scratchDir, originPort: env.origin.httpPort, path: SMALL_PATH, proxyPort: target.proxy?.port, connections: env.options.connections, durationSec: env.options.warmupSec });
  },
  runOnce: (env, target) => withProxyCpu(target, () => runWrk({
    janitor: env.janitor, cpus: env.cpus, scriptDir: env.scratchDir, originPort: env.origin.httpPort, path: SMALL_PATH,
    proxyPort: target.proxy?.port, connections: env.options.connections, durationSec: env.options.durationSec,
  })),
};

const s2: Scenario = {
  id: 'S2',
  title: 'HTTPS in a CONNECT tunnel, 1 KiB, keep-alive',
  description: 'Node load generator: 50 connections, each sends `CONNECT origin.test:TLSPORT` once, does a TLS handshake (SNI origin.test) with nginx through the tunnel, then GET /1k one at a time (keep-alive, no pipelining) until the time is up. Direct: the same TLS connections straight to nginx.',
  metrics: [RPS, P50, P99, CPU],
  hasDirect: true,
  repeated: true,
  unavailable: () => undefined,
  async warmup(env, target) {
    await runLoadgen(env.janitor, env.cpus, loadOptions(env, target, { tls: true, originPort: env.origin.httpsPort, newConnectionPerRequest: false }, env.options.warmupSec));
  },
  runOnce: (env, target) => withProxyCpu(target, () =>
    loadgenOutcome(env, loadOptions(env, target, { tls: true, originPort: env.origin.httpsPort, newConnectionPerRequest: false }, env.options.durationSec))),
};

/** S3 and S3p: a new CONNECT tunnel per request; what the client speaks inside differs. */
const tunnelPerRequest = (inside: Pick<LoadOptions, 'tls' | 'tlsResume'>, port: (env: BenchEnv) => number): Pick<Scenario, 'hasDirect' | 'repeated' | 'unavailable' | 'warmup' | 'runOnce'> => ({
  hasDirect: true,
  repeated: true,
  unavailable: () => undefined,
  async warmup(env, target) {
    await runLoadgen(env.janitor, env.cpus, loadOptions(env, target, { ...inside, originPort: port(env), newConnectionPerRequest: true }, env.options.warmupSec));
  },
  runOnce: (env, target) => withProxyCpu(target, () =>
    loadgenOutcome(env, loadOptions(env, target, { ...inside, originPort: port(env), newConnectionPerRequest: true }, env.options.durationSec))),
});

const CPU_PER_TUNNEL: Metric = { ...CPU, label: 'proxy CPU per tunnel (µs)' };

const s3: Scenario = {
  id: 'S3',
  title: 'new CONNECT tunnel per request (TLS inside, resumed)',
  description: 'Node load generator: 50 concurrent loops of TCP connect -> `CONNECT origin.test:TLSPORT` -> TLS 1.2 with nginx through the tunnel, SNI origin.test, resuming the session of the process\'s first handshake -> GET /1k (`Connection: close`) -> close. Every proxy passes these tunnels through (splices them) untouched. Measures tunnels set up and torn down per second; latency is from TCP connect to the end of the response. Direct: a new resumed TLS connection to nginx per request. Resumed, because a full TLS handshake costs the load generator and nginx ~5 ms of wall time on this kind of VM, which would hide every proxy\'s own cost; an abbreviated handshake has no key exchange or certificate check.',
  metrics: [{ ...RPS, label: 'tunnels/s (direct: connections/s)' }, P50, P99, CPU_PER_TUNNEL],
  ...tunnelPerRequest({ tls: true, tlsResume: true }, (env) => env.origin.httpsPort),
};

const s3p: Scenario = {
  id: 'S3p',
  title: 'new CONNECT tunnel per request, plain HTTP inside',
  description: 'Node load generator: 50 concurrent loops of TCP connect -> `CONNECT origin.test:PORT` -> GET /1k in plain HTTP inside the tunnel (`Connection: close`) -> close (S3 before 2026-12-03). Not like for like: Squid, tinyproxy and mitmproxy (with `ignore_hosts`) pass the bytes through, while Portcullis (`missing_sni: allow` lets plain bytes in) parses every request inside the tunnel and judges it by the policy as a forward request, so its Host cannot name another site; the request goes upstream through its connection pool. Direct: a new TCP connection to nginx per request.',
  metrics: [{ ...RPS, label: 'tunnels/s (direct: connections/s)' }, P50, P99, CPU_PER_TUNNEL],
  ...tunnelPerRequest({ tls: false }, (env) => env.origin.httpPort),
};

/** 100 MiB through the proxy: plain HTTP, TLS in a tunnel, or TLS the proxy decrypts (the client trusts its CA). */
const download = (kind: 'plain' | 'tunnel' | 'intercept') => (env: BenchEnv, target: Target): Promise<RunOutcome> =>
  runDownload({
    janitor: env.janitor,
    cpus: env.cpus,
    url: kind === 'plain' ? `http://127.0.0.1:${env.origin.httpPort}${LARGE_PATH}` : `https://${ORIGIN_NAME}:${env.origin.httpsPort}${LARGE_PATH}`,
    expectedBytes: LARGE_BYTES,
    proxyPort: target.proxy?.port,
    caFile: kind === 'plain' ? undefined : kind === 'intercept' && target.proxy ? env.interceptCa.certFile : env.origin.caFile,
  });

/** What S6a-S6c share: one curl download per run, after one unmeasured download for every column alike (JIT, pools, caches). */
const downloadScenario = (kind: 'plain' | 'tunnel' | 'intercept'): Pick<Scenario, 'metrics' | 'hasDirect' | 'repeated' | 'unavailable' | 'warmup' | 'runOnce'> => ({
  metrics: [MBPS],
  hasDirect: true,
  repeated: true,
  unavailable: () => (commandExists('curl') ? undefined : 'curl not installed'),
  async warmup(env, target) {
    await download(kind)(env, target);
  },
  runOnce: download(kind),
});

const s6a: Scenario = {
  id: 'S6a',
  title: '100 MiB download, plain HTTP through the proxy',
  description: '`curl -o /dev/null -w %{speed_download} -x PROXY http://127.0.0.1:ORIGIN/100m` (direct: without -x); status 200 and the full size are checked.',
  ...downloadScenario('plain'),
};

const s6b: Scenario = {
  id: 'S6b',
  title: '100 MiB HTTPS download through a CONNECT tunnel',
  description: '`curl --cacert CA -x PROXY https://origin.test:TLSPORT/100m`: curl opens a CONNECT tunnel and fetches the file over TLS through it (direct: `--resolve origin.test:TLSPORT:127.0.0.1` without a proxy). TLS costs curl and nginx the same in every column.',
  ...downloadScenario('tunnel'),
};

const s6c: Scenario = {
  id: 'S6c',
  title: '100 MiB HTTPS download, intercepted',
  description: '`curl --cacert INTERCEPTION-CA -x PROXY https://origin.test:TLSPORT/100m`: the proxy decrypts the tunnel, fetches the file from nginx over its own verified TLS connection and re-encrypts it for curl (direct: as S6b, curl straight to nginx). ' +
    'The proxy does two TLS streams\' worth of crypto per byte here, curl and nginx one each.',
  intercept: true,
  ...downloadScenario('intercept'),
};

const memoryMetrics = (plural: string, singular: string): Scenario['metrics'] => [
  { key: 'idleMiB', label: 'RSS idle (MiB)', better: 'lower', digits: 1 },
  { key: 'loadedMiB', label: `RSS with idle ${plural} (MiB)`, better: 'lower', digits: 1 },
  { key: 'kibPerTunnel', label: `KiB per idle ${singular}`, better: 'lower', digits: 1 },
];

/** RSS before and after `tunnels` idle tunnels (TLS done, then nothing); `intercept`: with the proxy's minted certificate. */
const idleTunnelMemory = (intercept: boolean) => async (env: BenchEnv, target: Target): Promise<RunOutcome> => {
  const proxy = target.proxy;
  if (!proxy) throw new Error('memory scenarios need a proxy');
  await sleep(1500);
  const idle = treeRssKiB(proxy.pid);
  const holder = await startHolder(env.janitor, env.cpus, {
    kind: 'hold', mode: 'connect', proxyPort: proxy.port, originPort: env.origin.httpsPort, tls: true,
    caFile: intercept ? env.interceptCa.certFile : env.origin.caFile, servername: ORIGIN_NAME, authorityHost: ORIGIN_NAME, path: SMALL_PATH,
    connections: env.options.tunnels, durationSec: 0, newConnectionPerRequest: false, timeoutMs: 20_000, holdSeconds: 120,
  });
  try {
    await sleep(2000);
    const loaded = treeRssKiB(proxy.pid);
    const perTunnel = holder.ok > 0 ? (loaded.kib - idle.kib) / holder.ok : Number.NaN;
    return {
      values: { idleMiB: idle.kib / 1024, loadedMiB: loaded.kib / 1024, kibPerTunnel: perTunnel },
      errors: holder.failed,
      detail: `idle ${idle.kib} KiB (${idle.processes} process(es)); ${holder.ok} ${intercept ? 'intercepted connections' : 'tunnels'} open, ${holder.failed} failed${holder.samples[0] ? ` (e.g. ${holder.samples[0]})` : ''}; ` +
        `loaded ${loaded.kib} KiB (${loaded.processes} process(es))`,
      command: holder.command,
    };
  } finally {
    await holder.stop();
  }
};

const s7i: Scenario = {
  id: 'S7i',
  title: 'memory: idle intercepted connections',
  description: 'As S7, but the proxy intercepts: each of the N connections sends `CONNECT origin.test:TLSPORT`, completes a TLS handshake with the proxy\'s minted certificate (the client trusts the interception CA), then sends nothing. KiB per connection = growth / connections. Squid and mitmproxy may connect to nginx at this point, Portcullis does not (it connects at the first allowed request).',
  metrics: memoryMetrics('intercepted connections', 'intercepted connection'),
  hasDirect: false,
  repeated: false,
  intercept: true,
  unavailable: () => undefined,
  runOnce: idleTunnelMemory(true),
};

const s7: Scenario = {
  id: 'S7',
  title: 'memory: idle and with idle CONNECT tunnels',
  description: 'VmRSS summed over the proxy\'s process tree (from /proc) 1.5 s after start, then 2 s after N idle tunnels are up: `CONNECT origin.test:TLSPORT`, 200, TLS handshake with nginx completed, then nothing (opened 100 at a time by the load generator); KiB per tunnel = growth / tunnels. A fresh proxy instance is used.',
  metrics: memoryMetrics('tunnels', 'tunnel'),
  hasDirect: false,
  repeated: false,
  unavailable: () => undefined,
  runOnce: idleTunnelMemory(false),
};

/** Load options for the interception scenarios: the client trusts the interception CA through a proxy, the origin CA direct. */
const interceptLoad = (env: BenchEnv, target: Target, newConnectionPerRequest: boolean, durationSec: number): LoadOptions => ({
  ...loadOptions(env, target, { tls: true, originPort: env.origin.httpsPort, newConnectionPerRequest }, durationSec),
  caFile: target.proxy ? env.interceptCa.certFile : env.origin.caFile,
});

const INTERCEPT_NOTE = 'The proxies decrypt the tunnel: Portcullis with a rule `inspect: true` for origin.test and *.origin.test, Squid with `ssl_bump bump all`, mitmproxy without `ignore_hosts`; each presents a certificate it mints for the name, signed by the bench interception CA the client trusts, and verifies nginx against the origin CA. tinyproxy cannot intercept.';

const s4: Scenario = {
  id: 'S4',
  title: 'intercepted HTTPS, 1 KiB, keep-alive',
  description: `Node load generator: 50 connections, each sends \`CONNECT origin.test:TLSPORT\` once, does a TLS handshake (SNI origin.test) with the proxy, then GET /1k one at a time (keep-alive, no pipelining) until the time is up; every request is decrypted, checked and forwarded by the proxy over its own TLS connection to nginx. ${INTERCEPT_NOTE} Direct: TLS keep-alive straight to nginx (as S2). Proxy CPU per request = the proxy's CPU time during the run ÷ responses.`,
  metrics: [RPS, P50, P99, CPU],
  hasDirect: true,
  repeated: true,
  intercept: true,
  unavailable: () => undefined,
  async warmup(env, target) {
    await runLoadgen(env.janitor, env.cpus, interceptLoad(env, target, false, env.options.warmupSec));
  },
  runOnce: (env, target) => withProxyCpu(target, () => loadgenOutcome(env, interceptLoad(env, target, false, env.options.durationSec))),
};

const s5: Scenario = {
  id: 'S5',
  title: 'intercepted HTTPS, new connection per request',
  description: `Node load generator: 50 concurrent loops of TCP connect -> \`CONNECT origin.test:TLSPORT\` -> a full TLS handshake with the proxy (no session resumption) -> GET /1k (\`Connection: close\`) -> close: client handshakes per second (the certificate for origin.test is minted once and then cached by every proxy); latency from TCP connect to the end of the response. ${INTERCEPT_NOTE} How each proxy reaches nginx is its own business (a pooled or a new upstream TLS connection). Direct: a new TLS connection to nginx per request.`,
  metrics: [{ ...RPS, label: 'handshakes/s (direct: TLS connections/s)' }, P50, P99, CPU],
  hasDirect: true,
  repeated: true,
  intercept: true,
  unavailable: () => undefined,
  async warmup(env, target) {
    await runLoadgen(env.janitor, env.cpus, interceptLoad(env, target, true, env.options.warmupSec));
  },
  runOnce: (env, target) => withProxyCpu(target, () => loadgenOutcome(env, interceptLoad(env, target, true, env.options.durationSec))),
};

const FIRST_CONTACT_WARMUP = 20;

const s8: Scenario = {
  id: 'S8',
  title: `first request to each of ${FIRST_CONTACT_HOSTS} new host names, intercepted`,
  description: `Node load generator, one request at a time: for h1.origin.test … h${FIRST_CONTACT_HOSTS}.origin.test (all pinned to 127.0.0.1; nginx's certificate covers *.origin.test), a new TCP connection, \`CONNECT hN.origin.test:TLSPORT\`, TLS with SNI hN.origin.test, GET /1k, close; latency from TCP connect to the end of the response, so each one includes minting a certificate for a name the proxy has not seen and its first TLS connection to that name upstream. ${INTERCEPT_NOTE} Before the measured names, ${FIRST_CONTACT_WARMUP} unmeasured requests to origin.test warm the proxy's code paths (not the names). Direct: the same sequence straight to nginx (TCP + TLS + GET). Overhead = the proxy's percentile minus direct's. Fresh proxy instance, measured once.`,
  metrics: [
    { key: 'p50', label: 'p50 first-request latency (ms)', better: 'lower', digits: 2 },
    { key: 'p99', label: 'p99 first-request latency (ms)', better: 'lower', digits: 2 },
    { key: 'p50Overhead', label: 'p50 first-contact overhead, proxy − direct (ms)', better: 'lower', digits: 2, minusDirect: 'p50' },
    { key: 'p99Overhead', label: 'p99 first-contact overhead, proxy − direct (ms)', better: 'lower', digits: 2, minusDirect: 'p99' },
  ],
  hasDirect: true,
  repeated: false,
  intercept: true,
  unavailable: () => undefined,
  async runOnce(env, target) {
    const base = { ...interceptLoad(env, target, true, 120), kind: 'first-contact' as const, connections: 1, timeoutMs: 10_000 };
    await runLoadgen(env.janitor, env.cpus, { ...base, durationSec: 60, hosts: Array.from({ length: FIRST_CONTACT_WARMUP }, () => ORIGIN_NAME) });
    const hosts = Array.from({ length: FIRST_CONTACT_HOSTS }, (_, i) => firstContactHost(i + 1));
    const outcome = await loadgenOutcome(env, { ...base, hosts });
    const max = outcome.values.max;
    return max !== undefined ? { ...outcome, detail: `${outcome.detail}; slowest ${max.toFixed(1)} ms` } : outcome;
  },
};

export const ALL_SCENARIOS: readonly Scenario[] = [s1, s2, s3, s3p, s4, s5, s6a, s6b, s6c, s7, s7i, s8];
