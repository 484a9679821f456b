/**
 * Soak: for a bounded time, each proxy (Portcullis, Squid) holds thousands of idle CONNECT
 * tunnels open while concurrent keep-alive requests and new-connection requests go through it;
 * errors, RSS and open file descriptors of the proxy's process tree (from /proc) are reported
 * at the start, at the peak and at the end, after the connections were closed and the proxy
 * was given time to let go of them. Reuses the benchmark's origin, peer starters and load
 * generator; all traffic stays on 127.0.0.1. See docs/reliability.md.
 *
 *   node --import tsx bench/soak.ts --duration 60 --tunnels 2000 --concurrency 100
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { buildRef } from './build-ref.js';
import { treeCpuMs } from './cpu.js';
import { Janitor } from './janitor.js';
import { runLoadgen, startHolder, type Holder } from './loadgen-runner.js';
import type { HoldDone, LoadOptions, LoadResult } from './loadgen-types.js';
import { cpuBusyPercent, describeMachine, loadAverage, waitForQuiet } from './machine.js';
import { ORIGIN_NAME, SMALL_PATH, startOrigin, type Origin } from './origin.js';
import type { ProxyPeer, RunningProxy } from './peer.js';
import { portcullisPeer, REPO_ROOT } from './peer-portcullis.js';
import { squidPeer } from './peer-squid.js';
import { preparePrivateHosts, type PrivateHosts } from './private-hosts.js';
import { planCpus, type CpuPlan } from './procs.js';
import { processTree, treeRssKiB } from './rss.js';

const USAGE = `usage: node --import tsx bench/soak.ts [options]
  --duration S        seconds of load while the tunnels are held (default 60, at most 1800)
  --tunnels N         idle CONNECT tunnels held open during the load (default 2000, at most 10000)
  --concurrency N     concurrent request loops: half keep-alive, half new connection per request (default 100)
  --peers LIST        portcullis,squid (default both)
  --rounds N          repeat open tunnels / load / close / settle N times on the same instance (default 1)
  --settle S          after the load, wait up to S s for the descriptors to fall back (default 90)
  --portcullis DIR    soak the built Portcullis checkout in DIR instead of this one
  --portcullis-ref R  soak git ref R, exported with git archive and built in a temp dir
  --wait-quiet S      before each peer, wait up to S s for the machine to be < 20 % busy (default 0)
  --out FILE          report file (default bench/results/soak.md)`;

interface SoakOptions {
  readonly durationSec: number;
  readonly tunnels: number;
  readonly concurrency: number;
  readonly peers: readonly string[];
  readonly settleSec: number;
  readonly rounds: number;
  readonly portcullis: string | undefined;
  readonly portcullisRef: string | undefined;
  readonly waitQuietSec: number;
  readonly out: string;
}

const positiveInt = (name: string, value: string | undefined, max: number): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} needs an integer from 1 to ${max}, got ${value}`);
  return n;
};

const parseArgs = (argv: readonly string[]): SoakOptions | 'help' => {
  let durationSec = 60;
  let tunnels = 2000;
  let concurrency = 100;
  let peers = ['portcullis', 'squid'];
  let settleSec = 90;
  let rounds = 1;
  let portcullis: string | undefined;
  let portcullisRef: string | undefined;
  let waitQuietSec = 0;
  let out = 'bench/results/soak.md';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string | undefined => argv[++i];
    switch (arg) {
      case '--help': case '-h': return 'help';
      case '--duration': durationSec = positiveInt(arg, value(), 1800); break;
      case '--tunnels': tunnels = positiveInt(arg, value(), 10_000); break;
      case '--concurrency': concurrency = positiveInt(arg, value(), 2000); break;
      case '--peers': peers = (value() ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean); break;
      case '--rounds': rounds = positiveInt(arg, value(), 20); break;
      case '--settle': settleSec = positiveInt(arg, value(), 600); break;
      case '--portcullis': portcullis = value(); break;
      case '--portcullis-ref': portcullisRef = value(); break;
      case '--wait-quiet': waitQuietSec = positiveInt(arg, value(), 600); break;
      case '--out': out = value() ?? out; break;
      default: throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  return { durationSec, tunnels, concurrency, peers, settleSec, rounds, portcullis, portcullisRef, waitQuietSec, out };
};

const log = (message: string): void => { process.stderr.write(`[soak] ${message}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const firstLine = (err: unknown): string => ((err as Error).message ?? String(err)).split('\n')[0]?.slice(0, 200) ?? 'error';

/** Open descriptors of every process in the tree (entries of /proc/PID/fd). */
const treeFds = (root: number): number =>
  processTree(root).reduce((sum, pid) => {
    try { return sum + readdirSync(`/proc/${pid}/fd`).length; } catch { return sum; }
  }, 0);

interface Sample { readonly atSec: number; readonly rssKiB: number; readonly fds: number; readonly processes: number }

const sample = (pid: number, t0: number): Sample => {
  const rss = treeRssKiB(pid);
  return { atSec: (Date.now() - t0) / 1000, rssKiB: rss.kib, fds: treeFds(pid), processes: rss.processes };
};

/** One round: open the tunnels, load for the duration, check and close the tunnels, settle. */
interface Round {
  readonly tunnelsOk: number;
  readonly tunnelsFailed: number;
  readonly tunnelSamples: string[];
  /** undefined: the holder did not report (counted as every held tunnel lost). */
  readonly held: HoldDone | undefined;
  readonly keepAlive?: LoadResult;
  readonly keepAliveProblem?: string;
  readonly newConn?: LoadResult;
  readonly newConnProblem?: string;
  /** At the end of the load, tunnels still held. */
  readonly loaded: Sample;
  /** After the tunnels were closed and the descriptors settled (or settleSec ran out), plus 2 s. */
  readonly end: Sample;
  readonly settledAfterSec: number;
}

interface PeerSoak {
  readonly label: string;
  readonly problem?: string;
  readonly commandLine?: string;
  readonly configText?: string;
  readonly start?: Sample;
  readonly peak?: { rssKiB: number; fds: number };
  readonly rounds: Round[];
  readonly cpuSec?: number;
  readonly loadAverages: string[];
  readonly commands: string[];
}

const loadOptions = (origin: Origin, proxy: RunningProxy, o: SoakOptions, newConnection: boolean): LoadOptions => ({
  kind: 'run',
  // Keep-alive: absolute-form plain HTTP requests on persistent connections (the proxy parses
  // and forwards each). New connection: TCP connect -> CONNECT -> GET in plain HTTP -> close.
  mode: newConnection ? 'connect' : 'forward',
  proxyPort: proxy.port,
  originPort: origin.httpPort,
  tls: false,
  servername: ORIGIN_NAME,
  authorityHost: newConnection ? ORIGIN_NAME : '127.0.0.1',
  path: SMALL_PATH,
  connections: Math.max(1, Math.floor(o.concurrency / 2)),
  durationSec: o.durationSec,
  newConnectionPerRequest: newConnection,
  timeoutMs: 10_000,
});

const soakPeer = async (
  peer: ProxyPeer, o: SoakOptions, ctx: { janitor: Janitor; cpus: CpuPlan; origin: Origin; hosts: PrivateHosts; portcullisRoot: string },
): Promise<PeerSoak> => {
  const loadAverages: string[] = [];
  const commands: string[] = [];
  const quiet = await waitForQuiet(o.waitQuietSec);
  loadAverages.push(`before: ${loadAverage()} (machine ${quiet.busy.toFixed(0)} % busy${quiet.waitedSec > 0 ? ` after waiting ${quiet.waitedSec} s` : ''})`);
  let proxy: RunningProxy;
  try {
    proxy = await peer.start(ctx);
  } catch (err) {
    return { label: peer.label, problem: `failed to start: ${firstLine(err)}`, rounds: [], loadAverages, commands };
  }
  commands.push(proxy.commandLine);
  let holder: Holder | undefined;
  const rounds: Round[] = [];
  try {
    await sleep(1500);
    const t0 = Date.now();
    const start = sample(proxy.pid, t0);
    const cpuBefore = treeCpuMs(proxy.pid);
    let peakRss = start.rssKiB;
    let peakFds = start.fds;
    const track = (s: Sample): Sample => { peakRss = Math.max(peakRss, s.rssKiB); peakFds = Math.max(peakFds, s.fds); return s; };
    const sampler = setInterval(() => { try { track(sample(proxy.pid, t0)); } catch { /* process gone: reported by the loads */ } }, 1000);
    try {
      for (let round = 1; round <= o.rounds; round++) {
        const tag = o.rounds > 1 ? `${peer.label} round ${round}/${o.rounds}` : peer.label;
        log(`${tag}: opening ${o.tunnels} idle tunnels`);
        holder = await startHolder(ctx.janitor, ctx.cpus, {
          kind: 'hold', mode: 'connect', proxyPort: proxy.port, originPort: ctx.origin.httpsPort, tls: true,
          caFile: ctx.origin.caFile, servername: ORIGIN_NAME, authorityHost: ORIGIN_NAME, path: SMALL_PATH,
          connections: o.tunnels, durationSec: 0, newConnectionPerRequest: false, timeoutMs: 20_000,
          holdSeconds: o.durationSec + 300, verifyHeld: true,
        });
        if (round === 1) commands.push(holder.command);
        const opened = { ok: holder.ok, failed: holder.failed, samples: holder.samples };
        log(`${tag}: ${holder.ok} tunnels open, ${holder.failed} failed; ${o.durationSec} s of load (${o.concurrency} loops)`);
        const [keep, fresh] = await Promise.all([
          runLoadgen(ctx.janitor, ctx.cpus, loadOptions(ctx.origin, proxy, o, false)),
          runLoadgen(ctx.janitor, ctx.cpus, loadOptions(ctx.origin, proxy, o, true)),
        ]);
        if (round === 1) commands.push(keep.command, fresh.command);
        loadAverages.push(`end of load${o.rounds > 1 ? ` ${round}` : ''}: ${loadAverage()}`);
        const loaded = track(sample(proxy.pid, t0));
        log(`${tag}: load done; checking the held tunnels`);
        const held = await holder.finish(120_000);
        holder = undefined;
        // Let go: wait (bounded) for the descriptors to come back near the start, then 2 s more.
        const settleStart = Date.now();
        let now = sample(proxy.pid, t0);
        while (now.fds > start.fds + 10 && Date.now() - settleStart < o.settleSec * 1000) {
          await sleep(500);
          now = sample(proxy.pid, t0);
        }
        const settledAfterSec = (Date.now() - settleStart) / 1000;
        await sleep(2000);
        const end = sample(proxy.pid, t0);
        log(`${tag}: RSS ${mib(loaded.rssKiB)} MiB at the end of the load, ${mib(end.rssKiB)} MiB after settling; descriptors ${loaded.fds} -> ${end.fds}`);
        rounds.push({
          tunnelsOk: opened.ok, tunnelsFailed: opened.failed, tunnelSamples: opened.samples, held, loaded, end, settledAfterSec,
          ...(keep.result ? { keepAlive: keep.result } : { keepAliveProblem: keep.problem }),
          ...(fresh.result ? { newConn: fresh.result } : { newConnProblem: fresh.problem }),
        });
      }
      const cpuSec = (treeCpuMs(proxy.pid) - cpuBefore) / 1000;
      return {
        label: peer.label, commandLine: proxy.commandLine, configText: proxy.configText,
        start, peak: { rssKiB: peakRss, fds: peakFds }, rounds, cpuSec, loadAverages, commands,
      };
    } finally {
      clearInterval(sampler);
    }
  } catch (err) {
    return { label: peer.label, problem: `soak failed in round ${rounds.length + 1}: ${firstLine(err)}`, rounds, loadAverages, commands };
  } finally {
    if (holder) await holder.stop();
    await proxy.stop();
  }
};

const mib = (kib: number | undefined): string => (kib === undefined ? '–' : (kib / 1024).toFixed(1));
const num = (n: number | undefined, digits = 0): string =>
  (n === undefined || !Number.isFinite(n) ? '–' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));

const errorsOf = (r: LoadResult | undefined): number | undefined => (r ? r.errors + r.non200 : undefined);
const kinds = (r: LoadResult | undefined): string =>
  (r && Object.keys(r.errorKinds).length > 0 ? ` (${Object.entries(r.errorKinds).map(([k, v]) => `${k} ${v}`).join(', ')})` : '');

/** Errors of every kind in one round: tunnels that failed to open, held tunnels lost or failing, failed requests. */
const roundErrors = (r: Round): number => {
  if (!r.held || !r.keepAlive || !r.newConn) return Math.max(1, r.tunnelsOk + r.tunnelsFailed);
  return r.tunnelsFailed + (r.tunnelsOk - r.held.stillOpen) + r.held.verifyFailed + (errorsOf(r.keepAlive) ?? 0) + (errorsOf(r.newConn) ?? 0);
};
const totalErrors = (p: PeerSoak): number | undefined =>
  (p.problem || p.rounds.length === 0 ? undefined : p.rounds.reduce((sum, r) => sum + roundErrors(r), 0));

const sum = (p: PeerSoak, f: (r: Round) => number | undefined): number => p.rounds.reduce((acc, r) => acc + (f(r) ?? 0), 0);
/** One value per round, joined: "a" for one round, "a · b · c" for several. */
const each = (p: PeerSoak, f: (r: Round) => string): string => p.rounds.map(f).join(' · ');

const renderTable = (peers: readonly PeerSoak[], o: SoakOptions): string => {
  const half = Math.floor(o.concurrency / 2);
  const several = o.rounds > 1;
  const rows: Array<[string, (p: PeerSoak) => string]> = [
    [`idle tunnels opened (failed)${several ? ', all rounds' : ''}`, (p) => `${num(sum(p, (r) => r.tunnelsOk))} (${num(sum(p, (r) => r.tunnelsFailed))})`],
    [`held tunnels still open after the load / answering a request at the end${several ? ', all rounds' : ''}`, (p) => `${num(sum(p, (r) => r.held?.stillOpen))} / ${num(sum(p, (r) => r.held?.verified))}`],
    [`keep-alive requests (${half} connections): responses${several ? ' (all rounds)' : ''}; req/s${several ? ' per round' : ''}`, (p) => `${num(sum(p, (r) => r.keepAlive?.requests))}; ${each(p, (r) => (r.keepAlive ? num(r.keepAlive.rps) : r.keepAliveProblem ?? '–'))}`],
    ['keep-alive: errors + non-200', (p) => each(p, (r) => `${num(errorsOf(r.keepAlive))}${kinds(r.keepAlive)}`)],
    ['keep-alive: p50 / p99 latency (ms)', (p) => each(p, (r) => (r.keepAlive ? `${num(r.keepAlive.p50Ms, 1)} / ${num(r.keepAlive.p99Ms, 1)}` : '–'))],
    [`new-connection requests (${half} loops): responses${several ? ' (all rounds)' : ''}; req/s${several ? ' per round' : ''}`, (p) => `${num(sum(p, (r) => r.newConn?.requests))}; ${each(p, (r) => (r.newConn ? num(r.newConn.rps) : r.newConnProblem ?? '–'))}`],
    ['new connection: errors + non-200', (p) => each(p, (r) => `${num(errorsOf(r.newConn))}${kinds(r.newConn)}`)],
    ['new connection: p50 / p99 latency (ms)', (p) => each(p, (r) => (r.newConn ? `${num(r.newConn.p50Ms, 1)} / ${num(r.newConn.p99Ms, 1)}` : '–'))],
    ['**errors, all kinds**', (p) => `**${num(totalErrors(p))}**`],
    ['RSS start / peak / end (MiB)', (p) => `${mib(p.start?.rssKiB)} / ${mib(p.peak?.rssKiB)} / ${mib(p.rounds.at(-1)?.end.rssKiB)}`],
    ...(several ? [['RSS at the end of each round, after settling (MiB)', (p: PeerSoak) => each(p, (r) => mib(r.end.rssKiB))] as [string, (p: PeerSoak) => string]] : []),
    ['open file descriptors start / peak / end', (p) => `${num(p.start?.fds)} / ${num(p.peak?.fds)} / ${num(p.rounds.at(-1)?.end.fds)}`],
    [`descriptors back within 10 of the start after (s)${several ? ', per round' : ''}`, (p) => each(p, (r) => (p.start && r.end.fds <= p.start.fds + 10 ? r.settledAfterSec.toFixed(1) : `not within ${o.settleSec} s`))],
    ['processes in the tree (start / end)', (p) => `${num(p.start?.processes)} / ${num(p.rounds.at(-1)?.end.processes)}`],
    ['proxy CPU time over the soak (s)', (p) => num(p.cpuSec, 1)],
  ];
  const header = ['', ...peers.map((p) => p.label)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const [name, cell] of rows) lines.push(`| ${name} | ${peers.map((p) => (p.problem ? `n/a (${p.problem})` : cell(p)).replace(/\|/g, '\\|')).join(' | ')} |`);
  return lines.join('\n');
};

const main = async (): Promise<number> => {
  let parsed: SoakOptions | 'help';
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  if (parsed === 'help') { process.stdout.write(`${USAGE}\n`); return 0; }
  const o = parsed;
  const all: ProxyPeer[] = [portcullisPeer, squidPeer];
  const peers = all.filter((p) => o.peers.includes(p.id));
  if (peers.length === 0) { process.stderr.write(`no peer matches ${o.peers.join(',')}\n${USAGE}\n`); return 2; }

  const janitor = new Janitor();
  janitor.installHandlers();
  const limitMs = (peers.length * (o.rounds * (o.durationSec + o.settleSec + 300) + o.waitQuietSec + 120) + 600) * 1000;
  const watchdog = setTimeout(() => {
    log(`time limit of ${Math.round(limitMs / 1000)} s reached: stopping everything`);
    void janitor.cleanup(1000).finally(() => process.exit(1));
  }, limitMs);
  watchdog.unref();
  const started = Date.now();
  try {
    let portcullisRoot = path.resolve(o.portcullis ?? REPO_ROOT);
    let refNote: string | undefined;
    if (o.portcullisRef) {
      log(`building Portcullis ${o.portcullisRef} in a temp dir`);
      const built = await buildRef(janitor, REPO_ROOT, o.portcullisRef);
      portcullisRoot = built.dir;
      refNote = `git ${o.portcullisRef} = ${built.commit} (exported with git archive, built with tsc)`;
    }
    const cpus = planCpus();
    const busy = await cpuBusyPercent(1000);
    const machine = await describeMachine(peers, portcullisRoot);
    if (refNote) machine.splice(machine.findIndex(([k]) => k === 'Portcullis build'), 1, ['Portcullis build', refNote]);
    machine.push(['before the soak: CPU busy (other processes), load average', `${busy.toFixed(0)} %, ${loadAverage()}`]);
    const origin = await startOrigin(janitor, cpus);
    const hosts = preparePrivateHosts(janitor.tempDir('scratch'), [ORIGIN_NAME]);
    const results: PeerSoak[] = [];
    for (const peer of peers) {
      const why = peer.unavailable(portcullisRoot);
      if (why) { results.push({ label: peer.label, problem: why, rounds: [], loadAverages: [], commands: [] }); continue; }
      log(`${peer.label}: ${o.durationSec} s, ${o.tunnels} tunnels, ${o.concurrency} request loops`);
      const r = await soakPeer(peer, o, { janitor, cpus, origin, hosts, portcullisRoot });
      log(`${peer.label}: ${r.problem ?? `errors ${totalErrors(r) ?? '?'}, RSS ${mib(r.start?.rssKiB)} → ${mib(r.peak?.rssKiB)} → ${mib(r.rounds.at(-1)?.end.rssKiB)} MiB, fds ${r.start?.fds} → ${r.peak?.fds} → ${r.rounds.at(-1)?.end.fds}`}`);
      results.push(r);
    }
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const out: string[] = [`# Portcullis soak: ${o.rounds > 1 ? `${o.rounds} rounds of ` : ''}${o.durationSec} s, ${o.tunnels} held tunnels, ${o.concurrency} request loops`, ''];
    out.push('## Machine', '', '| | |', '| --- | --- |', ...machine.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`), '');
    out.push('## Setup', '',
      `- all traffic on 127.0.0.1; origin: the benchmark's nginx (plain and TLS); ${cpus.description}`,
      `- per proxy, on a fresh instance (the benchmark's config for it: Portcullis with \`max_connections: 20000\`, \`max_connections_per_client: 20000\` and \`missing_sni: allow\`, Squid \`workers 1\`, \`max_filedescriptors 65536\`): ${o.tunnels} CONNECT tunnels to origin.test:TLSPORT are opened (100 at a time, TLS handshake with nginx completed) and held idle; then for ${o.durationSec} s, ${Math.floor(o.concurrency / 2)} keep-alive connections send absolute-form \`GET http://127.0.0.1:PORT/1k\` one after the other while ${Math.floor(o.concurrency / 2)} loops each open a new connection per request (\`CONNECT origin.test:PORT\`, plain \`GET /1k\` with \`Connection: close\`, close); every response must be a 200 (10 s timeout)`,
      `- after the load, one request is sent over each held tunnel (a 200 from nginx counts as verified), then all tunnels are closed; "end" is measured once the descriptor count is back within 10 of the start (at most ${o.settleSec} s) plus 2 s${o.rounds > 1 ? `; this is repeated ${o.rounds} times on the same proxy instance (the same process throughout)` : ''}`,
      '- RSS = VmRSS summed over the proxy\'s process tree, descriptors = entries of /proc/PID/fd summed over the tree (Squid\'s tree includes its log daemon), sampled every second; CPU = utime + stime of the tree',
      `- total time ${minutes} min; 1-minute load average at the end ${loadAverage()} (${availableParallelism()} CPUs)`, '');
    out.push('## Results', '', renderTable(results, o), '');
    for (const r of results) {
      out.push(`### ${r.label}`, '');
      if (r.problem) { out.push(`- ${r.problem}`, ''); continue; }
      out.push(`- load averages: ${r.loadAverages.join('; ')}`);
      r.rounds.forEach((round, i) => {
        const tag = o.rounds > 1 ? `round ${i + 1}: ` : '';
        if (round.tunnelSamples.length) out.push(`- ${tag}tunnel open failures, e.g.: ${round.tunnelSamples.join('; ')}`);
        if (!round.held) out.push(`- ${tag}the tunnel holder did not report at the end (its tunnels count as lost)`);
        if (round.held?.samples.length) out.push(`- ${tag}held-tunnel check failures, e.g.: ${round.held.samples.join('; ')}`);
        if (round.keepAlive?.errorSamples.length) out.push(`- ${tag}keep-alive errors, e.g.: ${round.keepAlive.errorSamples.join('; ')}`);
        if (round.newConn?.errorSamples.length) out.push(`- ${tag}new-connection errors, e.g.: ${round.newConn.errorSamples.join('; ')}`);
        out.push(`- ${tag}at the end of the load: RSS ${mib(round.loaded.rssKiB)} MiB, ${round.loaded.fds} descriptors; after settling: RSS ${mib(round.end.rssKiB)} MiB, ${round.end.fds} descriptors`);
      });
      out.push('', 'Commands:', '', '```', ...r.commands, '```', '', 'Config:', '', '```', (r.configText ?? '').trimEnd(), '```', '');
    }
    const report = out.join('\n');
    const outFile = path.resolve(REPO_ROOT, o.out);
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, `${report}\n`);
    process.stdout.write(`${report}\n`);
    log(`done in ${minutes} min; report written to ${path.relative(REPO_ROOT, outFile)}`);
    const portcullis = results.find((r) => r.label === portcullisPeer.label);
    return portcullis && (portcullis.problem || (totalErrors(portcullis) ?? 1) > 0) ? 1 : 0;
  } catch (err) {
    log(`fatal: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    await janitor.cleanup();
    clearTimeout(watchdog);
  }
};

process.exitCode = await main();
