/**
 * Side-by-side benchmark driver: direct vs Portcullis vs Squid vs tinyproxy (vs mitmproxy).
 * Started by bench/run.sh (`npm run bench -- [options]`); see bench/args.ts for the options and
 * docs/performance.md for what each scenario measures. All traffic stays on 127.0.0.1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs, USAGE, type BenchOptions } from './args.js';
import { buildRef } from './build-ref.js';
import { makeInterceptCa } from './intercept-ca.js';
import { Janitor } from './janitor.js';
import { cpuBusyPercent, describeMachine, loadAverage } from './machine.js';
import { log, measureScenario, noteCommand, type Collected, type TargetSpec } from './measure.js';
import { allOriginNames, FIRST_CONTACT_HOSTS, ORIGIN_NAME, startOrigin } from './origin.js';
import { preparePrivateHosts } from './private-hosts.js';
import { baselinePeer } from './peer-baseline.js';
import { REPO_ROOT } from './peer-portcullis.js';
import { ALL_PEERS } from './peers.js';
import { planCpus } from './procs.js';
import { renderReport, renderTable, type Cell, type Column, type ScenarioResult, type TargetId } from './report.js';
import { ALL_SCENARIOS, type BenchEnv, type Scenario } from './scenarios.js';

/** Upper bound on the whole run; past it everything is stopped and the run fails. */
const timeLimitMs = (o: BenchOptions, scenarios: number, targets: number): number =>
  (scenarios * targets * ((o.runs * (o.durationSec + 15 + o.waitQuietSec)) + o.warmupSec + 30) + 300) * 1000;

/** Fills metrics defined as "this target minus direct" (S8's overhead); NaN when direct failed. */
const deriveMinusDirect = (scenario: Scenario, cells: Map<TargetId, Cell>): void => {
  const direct = cells.get('direct');
  for (const metric of scenario.metrics) {
    if (!metric.minusDirect) continue;
    const base = direct?.kind === 'value' && direct.failedRuns === 0 ? (direct.values[metric.minusDirect] ?? Number.NaN) : Number.NaN;
    for (const [id, cell] of cells) {
      if (cell.kind !== 'value') continue;
      cell.values[metric.key] = id === 'direct' ? Number.NaN : (cell.values[metric.minusDirect] ?? Number.NaN) - base;
    }
  }
};

const main = async (): Promise<number> => {
  let options: BenchOptions | 'help';
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  if (options === 'help') { process.stdout.write(`${USAGE}\n`); return 0; }
  const opts = options;
  const scenarios = ALL_SCENARIOS.filter((s) => !opts.scenarios || opts.scenarios.includes(s.id));
  const peers = ALL_PEERS.filter((p) => !opts.peers || opts.peers.includes(p.id));
  if (opts.baselineRef && !peers.some((p) => p.id === 'portcullis')) { process.stderr.write('--baseline-ref needs portcullis among --peers\n'); return 2; }
  if (scenarios.length === 0) { process.stderr.write(`no scenario matches ${opts.scenarios?.join(',')}\n${USAGE}\n`); return 2; }

  const janitor = new Janitor();
  janitor.installHandlers();
  const limit = timeLimitMs(opts, scenarios.length, peers.length + 1 + (opts.baselineRef ? 1 : 0));
  const watchdog = setTimeout(() => {
    log(`time limit of ${Math.round(limit / 1000)} s reached: stopping everything`);
    void janitor.cleanup(1000).finally(() => process.exit(1));
  }, limit);
  watchdog.unref();

  const started = Date.now();
  const cpus = planCpus(opts.workers ?? 1);
  let portcullisRoot = path.resolve(opts.portcullis ?? REPO_ROOT);
  const collected: Collected = { runLog: [], commands: [], configs: [], seenCommands: new Set() };
  try {
    log(`runs ${opts.runs} × ${opts.durationSec} s (warm-up ${opts.warmupSec} s), scenarios ${scenarios.map((s) => s.id).join(',')}, peers ${peers.map((p) => p.id).join(',')}`);
    let refNote: [string, string] | undefined;
    if (opts.portcullisRef) {
      log(`building Portcullis ${opts.portcullisRef} in a temp dir`);
      const built = await buildRef(janitor, REPO_ROOT, opts.portcullisRef);
      portcullisRoot = built.dir;
      refNote = ['Portcullis build', `git ${opts.portcullisRef} = ${built.commit} (exported with git archive, built with tsc)`];
    }
    if (opts.baselineRef) {
      log(`building the baseline, Portcullis ${opts.baselineRef}, in a temp dir`);
      const built = await buildRef(janitor, REPO_ROOT, opts.baselineRef);
      // Right after Portcullis, so it is started and measured with the same interleaving.
      peers.splice(peers.findIndex((p) => p.id === 'portcullis') + 1, 0, baselinePeer(built.dir, opts.baselineRef));
      collected.runLog.push(`baseline: Portcullis ${opts.baselineRef} = ${built.commit} (exported with git archive, built with tsc)`);
    }
    const busy = await cpuBusyPercent(1000);
    const machine = await describeMachine(peers, portcullisRoot);
    if (refNote) machine.splice(machine.findIndex(([k]) => k === 'Portcullis build'), 1, refNote);
    machine.push(['before the run: CPU busy (other processes), load average', `${busy.toFixed(0)} %, ${loadAverage()}`]);
    const origin = await startOrigin(janitor, cpus);
    origin.commandLines.forEach((c, i) => noteCommand(collected, `origin setup ${i + 1}`, c));
    log(`origin: nginx on 127.0.0.1:${origin.httpPort} (http) and :${origin.httpsPort} (https)`);
    const scratchDir = janitor.tempDir('scratch');
    const hosts = preparePrivateHosts(scratchDir, allOriginNames());
    const interceptCa = await makeInterceptCa(scratchDir);
    noteCommand(collected, 'interception CA (S4, S5, S8)', interceptCa.commandLine);
    const env: BenchEnv = { cpus, origin, janitor, options: opts, scratchDir, hosts, portcullisRoot, interceptCa };

    const columns: Column[] = [{ id: 'direct', label: 'direct' }];
    const notes: string[] = [];
    if (hosts.problem) notes.push(`${hosts.problem}: Squid, tinyproxy and mitmproxy cannot resolve ${ORIGIN_NAME}, so their tunnel rows fail.`);
    for (const peer of peers) {
      const why = peer.unavailable(portcullisRoot);
      if (why && peer.id === 'mitmproxy') { notes.push(`mitmproxy: ${why}, so its column is left out.`); continue; }
      columns.push({ id: peer.id, label: peer.label });
    }

    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      const cells = new Map<TargetId, Cell>();
      const missing = scenario.unavailable();
      const candidates: TargetSpec[] = [];
      if (scenario.hasDirect) candidates.push({ id: 'direct', peer: undefined, label: 'direct' });
      for (const c of columns) {
        const peer = peers.find((p) => p.id === c.id);
        if (peer) candidates.push({ id: peer.id, peer, label: peer.label });
      }
      const targets: TargetSpec[] = [];
      for (const spec of candidates) {
        const { peer } = spec;
        const why = missing ?? peer?.unavailable(portcullisRoot) ?? (scenario.intercept && peer && !peer.canIntercept ? 'cannot intercept TLS' : undefined);
        if (why) { cells.set(spec.id, { kind: 'na', reason: why }); collected.runLog.push(`${scenario.id} ${spec.label}: n/a (${why})`); continue; }
        targets.push(spec);
      }
      for (const [id, cell] of await measureScenario(scenario, env, targets, collected)) cells.set(id, cell);
      deriveMinusDirect(scenario, cells);
      results.push({ scenario, cells });
    }

    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const setup = [
      `all traffic on 127.0.0.1; origin: nginx (worker_processes 1, access_log off, sendfile on) serving /1k (1024 bytes) and /100m (100 MiB), plain and TLS (ECDSA P-256 cert for origin.test, *.origin.test and 127.0.0.1, signed by a throw-away origin CA)`,
      `CPU placement: ${cpus.description}`,
      opts.workers === undefined
        ? 'processes: every proxy at its default: Portcullis without --workers (one worker per CPU it may use: under `taskset -c 0`, 1), Squid `workers 1` (`squid -N`), mitmproxy and tinyproxy one process each'
        : `processes: equal counts, Portcullis \`--workers ${opts.workers}\` and Squid \`workers ${opts.workers}\`${opts.workers > 1 ? ' (`squid --foreground`: a master plus its kids)' : ''}; mitmproxy and tinyproxy cannot be given more processes and run as usual`,
      `plain HTTP scenarios (S1, S6a) use \`http://127.0.0.1:ORIGIN/...\` for everyone; tunnel scenarios CONNECT to the name \`${ORIGIN_NAME}:PORT\`, because Portcullis checks that a spliced tunnel's TLS SNI names the CONNECT host (so an IP CONNECT carrying SNI ${ORIGIN_NAME} would be refused); S2, S3, S6b and S7 speak TLS with SNI ${ORIGIN_NAME} inside (S3 resuming one session), S3p plain HTTP (Portcullis runs with \`missing_sni: allow\` for it, and judges each request inside). Portcullis pins ${ORIGIN_NAME} with \`resolve:\`; Squid, tinyproxy and mitmproxy each run in a private mount namespace whose /etc/hosts adds \`127.0.0.1 ${ORIGIN_NAME}\` (the machine's /etc/hosts is not touched)`,
      `interception scenarios (S4, S5, S8): the proxies decrypt CONNECT tunnels to ${ORIGIN_NAME} and *.${ORIGIN_NAME} (Portcullis: a rule with \`inspect: true\`, \`ca: { cert, key }\`, \`upstream.tls.extra_ca\`; Squid: \`ssl-bump\` port, \`ssl_bump bump all\`, \`security_file_certgen\`, \`tls_outgoing_options cafile=\`; mitmproxy: no \`ignore_hosts\`, \`ssl_verify_upstream_trusted_ca\`); all three sign with one throw-away ECDSA P-256 interception CA that the load generator trusts, and verify nginx against the origin CA; S8 uses h1…h${FIRST_CONTACT_HOSTS}.${ORIGIN_NAME}, pinned like ${ORIGIN_NAME}; tinyproxy cannot intercept (n/a)`,
      `every proxy gets a fresh instance (new config, temp dir and port) for each scenario, with an access log to a file: Portcullis \`log: { format: json }\`, Squid \`access_log daemon:\`, tinyproxy \`LogLevel Info\`, mitmproxy flow lines to a file`,
      `runs: ${opts.runs} × ${opts.durationSec} s per throughput scenario and target, median reported; ${opts.warmupSec} s unmeasured warm-up before S1–S5, one unmeasured download before S6a–S6c; S7 measured once with ${opts.tunnels} tunnels, S8 once with ${FIRST_CONTACT_HOSTS} names; ${opts.connections} concurrent connections in S1–S5; proxy CPU per request (S1, S2, S4, S5; per tunnel in S3, S3p) = CPU time (user + system) of the proxy's process tree during the run, from /proc/PID/stat, ÷ responses`,
      'a cell is **FAILED** when any of its runs saw a non-200 response or a transport error (connect/read/write error, timeout); such cells are left out of the ratios',
      'ratios are Portcullis ÷ the other column: above 1× is better for req/s and MB/s, worse for latency and memory',
      `total time of this run: ${minutes} min; 1-minute load average at the end: ${loadAverage()} (${availableParallelism()} CPUs: above that, other processes competed with the benchmark; each run's load average is in the run log)`,
    ];
    const table = renderTable(results, columns);
    const report = renderReport({
      title: `Portcullis side-by-side benchmark${opts.quick ? ' (--quick: 1 short run, indicative only)' : ''}`,
      machine,
      setup,
      table,
      notes,
      scenarios,
      runLog: collected.runLog,
      commands: collected.commands,
      configs: collected.configs,
    });
    const outFile = path.resolve(REPO_ROOT, opts.out);
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, `${report}\n`);
    process.stdout.write(`${report}\n`);
    log(`done in ${minutes} min; results written to ${path.relative(REPO_ROOT, outFile)}`);
    // Exit 1 when Portcullis (or the baseline) had errors; a peer's errors are only reported.
    const bad = (id: TargetId): boolean => results.some((r) => { const c = r.cells.get(id); return c?.kind === 'value' && c.failedRuns > 0; });
    return bad('portcullis') || bad('direct') ? 1 : 0;
  } catch (err) {
    log(`fatal: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    await janitor.cleanup();
    clearTimeout(watchdog);
  }
};

process.exitCode = await main();
