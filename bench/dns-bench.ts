/**
 * DNS listener benchmark: Portcullis's DNS listener against dnsmasq on the same machine, driven
 * by dnsperf (Debian), over UDP and TCP, each on loopback with a fresh instance per scenario.
 * Both answer from memory: Portcullis pins the allowed name with `resolve:`, dnsmasq with
 * `address=/NAME/IP`; both refuse the other name (Portcullis by policy, NXDOMAIN; dnsmasq with
 * `address=/NAME/`, NXDOMAIN) and both log every query to a file.
 *
 *   node --import tsx bench/dns-bench.ts [--duration 10] [--runs 3] [--out bench/results/dns.md]
 *
 * bench/dns.sh installs dnsperf and dnsmasq first.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Janitor } from './janitor.js';
import { cpuBusyPercent, loadAverage } from './machine.js';
import { commandExists, freePort, pinned, planCpus, runCommand, shellLine, startProcess, type ManagedProcess } from './procs.js';
import { median } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ALLOWED = 'bench.example.com';
const DENIED = 'denied.test';
const ANSWER = '93.184.216.34';

interface Options {
  readonly duration: number;
  readonly runs: number;
  readonly out: string;
}

const parseOptions = (argv: readonly string[]): Options => {
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  return {
    duration: Number(value('--duration') ?? 10),
    runs: Number(value('--runs') ?? 3),
    out: value('--out') ?? path.join(ROOT, 'bench', 'results', 'dns.md'),
  };
};

interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly mode: 'udp' | 'tcp';
  /** Lines of the dnsperf data file. */
  readonly queries: readonly string[];
  /** Servers that take part (dnsmasq's TCP is left out: see the report). */
  readonly servers: ReadonlyArray<'Portcullis' | 'dnsmasq'>;
}

const SCENARIOS: readonly Scenario[] = [
  { id: 'D1', title: 'allowed name, A, UDP', mode: 'udp', queries: [`${ALLOWED} A`], servers: ['Portcullis', 'dnsmasq'] },
  { id: 'D2', title: 'refused name, A, UDP (NXDOMAIN)', mode: 'udp', queries: [`${DENIED} A`], servers: ['Portcullis', 'dnsmasq'] },
  { id: 'D3', title: 'allowed name, A, TCP', mode: 'tcp', queries: [`${ALLOWED} A`], servers: ['Portcullis'] },
];

interface Server {
  readonly name: string;
  start(janitor: Janitor, dir: string, port: number, cpu: string): Promise<ManagedProcess>;
  version(): Promise<string>;
}

const plan = planCpus(1);

const portcullis: Server = {
  name: 'Portcullis',
  async start(janitor, dir, port, cpu) {
    const config = path.join(dir, 'portcullis.yaml');
    writeFileSync(config, [
      'listen:', `  - { address: "127.0.0.1:${port}", mode: dns }`,
      'admin: { enabled: false }', `state_dir: ${path.join(dir, 'state')}`,
      `resolve: { ${ALLOWED}: ${ANSWER} }`,
      `log: { format: json, file: ${path.join(dir, 'access.log')} }`,
      // dnsperf is one client sending thousands of queries a second: the guard still checks every
      // name, but its rate is raised so that the answers are measured, not the refusals.
      'dns: { exfiltration: { rate: 10000000/s } }',
      'rules:', `  - { name: bench, hosts: ["*.example.com"] }`, '',
    ].join('\n'));
    const [cmd, args] = pinned(plan, cpu, process.execPath, [path.join(ROOT, 'bin', 'portcullis.js'), 'run', '-c', config]);
    const proc = startProcess(janitor, 'portcullis', cmd, args, { cwd: dir });
    await proc.waitFor(/listening on/, 20_000);
    return proc;
  },
  async version() {
    const r = await runCommand(process.execPath, [path.join(ROOT, 'bin', 'portcullis.js'), '--version'], 10_000);
    return r.stdout.trim();
  },
};

const dnsmasq: Server = {
  name: 'dnsmasq',
  async start(janitor, dir, port, cpu) {
    const [cmd, args] = pinned(plan, cpu, 'dnsmasq', [
      '--keep-in-foreground', '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll',
      '--listen-address=127.0.0.1', '--bind-interfaces', `--port=${port}`, '--user=root', '--pid-file',
      `--address=/${ALLOWED}/${ANSWER}`, `--address=/${DENIED}/`, '--cache-size=1000',
      '--log-queries', `--log-facility=${path.join(dir, 'dnsmasq.log')}`,
    ]);
    const proc = startProcess(janitor, 'dnsmasq', cmd, args);
    await waitForAnswer(port);
    return proc;
  },
  async version() {
    const r = await runCommand('dnsmasq', ['--version'], 10_000);
    return (r.stdout.split('\n')[0] ?? '').trim();
  },
};

/** Waits (bounded) until the server answers the allowed name. */
const waitForAnswer = async (port: number): Promise<void> => {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await runCommand('dig', ['@127.0.0.1', '-p', String(port), '+short', '+time=1', '+tries=1', ALLOWED, 'A'], 5000);
    if (r.stdout.trim() === ANSWER) return;
    if (Date.now() > deadline) throw new Error(`no answer on port ${port}: ${r.stdout}${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

interface Measured {
  readonly qps: number;
  readonly latencyMs: number;
  readonly lost: number;
  readonly rcodes: string;
}

/** One dnsperf run; throughput and average latency as dnsperf reports them. */
const measure = async (janitor: Janitor, dir: string, port: number, scenario: Scenario, duration: number): Promise<Measured> => {
  const data = path.join(dir, `${scenario.id}.txt`);
  writeFileSync(data, `${scenario.queries.join('\n')}\n`);
  const [cmd, args] = pinned(plan, plan.loadCpu, 'dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-m', scenario.mode, '-d', data, '-l', String(duration), '-c', '4', '-q', '200']);
  const r = await runCommand(cmd, args, (duration + 30) * 1000, janitor);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const latency = Number(/Average Latency \(s\):\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const rcodes = /Response codes:\s+(.*)/.exec(r.stdout)?.[1]?.trim() ?? '?';
  if (!Number.isFinite(qps)) throw new Error(`dnsperf printed no result:\n${r.stdout}\n${r.stderr}`);
  return { qps, latencyMs: latency * 1000, lost, rcodes };
};

const main = async (): Promise<void> => {
  const options = parseOptions(process.argv.slice(2));
  for (const tool of ['dnsperf', 'dnsmasq', 'dig']) {
    if (!commandExists(tool)) throw new Error(`${tool} is missing: run bench/dns.sh (installs dnsperf, dnsmasq-base, dnsutils)`);
  }
  const janitor = new Janitor();
  janitor.installHandlers();
  const rows: string[] = [];
  const busyBefore = await cpuBusyPercent(1000);
  try {
    for (const scenario of SCENARIOS) {
      for (const server of [portcullis, dnsmasq].filter((s) => scenario.servers.includes(s.name as 'Portcullis' | 'dnsmasq'))) {
        const runs: Measured[] = [];
        for (let run = 0; run < options.runs; run += 1) {
          const dir = janitor.tempDir('dns');
          const port = await freePort();
          const proc = await server.start(janitor, dir, port, plan.proxyCpu);
          try {
            runs.push(await measure(janitor, dir, port, scenario, options.duration));
          } finally {
            await proc.stop();
            janitor.removeDir(dir);
          }
        }
        const qps = median(runs.map((r) => r.qps));
        const latency = median(runs.map((r) => r.latencyMs));
        const line = `| ${scenario.id} | ${scenario.title} | ${server.name} | ${Math.round(qps)} | ${runs.map((r) => Math.round(r.qps)).join(', ')} | ${latency.toFixed(2)} | ${runs.reduce((s, r) => s + r.lost, 0)} | ${runs[0]?.rcodes ?? ''} |`;
        process.stderr.write(`${line}\n`);
        rows.push(line);
      }
    }
  } finally {
    await janitor.cleanup();
  }
  const report = [
    '# DNS listener benchmark: Portcullis against dnsmasq',
    '',
    `- date: ${new Date().toISOString()}; load average ${loadAverage()}; CPU busy before the run: ${Math.round(busyBefore)} %`,
    `- Portcullis ${await portcullis.version()}; ${await dnsmasq.version()}; dnsperf ${(await runCommand('dnsperf', ['-h'], 5000)).stdout.match(/Version ([\d.]+)/)?.[1] ?? '?'}`,
    `- CPU placement: ${plan.enabled ? `the DNS server pinned to CPU ${plan.proxyCpu}, dnsperf to CPU ${plan.loadCpu} (\`taskset -c\`)` : 'no pinning: server and dnsperf share the CPUs'}`,
    `- dnsperf: \`${shellLine('dnsperf', ['-s', '127.0.0.1', '-p', 'PORT', '-m', 'udp|tcp', '-d', 'FILE', '-l', String(options.duration), '-c', '4', '-q', '200'])}\`, ${options.runs} runs of ${options.duration} s per row, a fresh server each run; the median is shown`,
    `- Portcullis: one DNS listener, \`resolve: { ${ALLOWED}: ${ANSWER} }\`, rule \`*.example.com\`, json access log to a file, \`dns.exfiltration.rate\` raised to 10000000/s (every other guard check on); default workers (one per CPU it may use)`,
    `- dnsmasq: \`--address=/${ALLOWED}/${ANSWER} --address=/${DENIED}/ --no-resolv --no-hosts --log-queries --log-facility=FILE\` (answers from memory, logs every query)`,
    '- D3 has no dnsmasq row: dnsmasq answers TCP in a forked child per connection, and against dnsperf\'s pipelined TCP it answered about 1 query a second (most timed out), which measures nothing useful',
    '',
    '- lost: queries dnsperf counted as lost in all runs together (those still outstanding when a run ended count too); response codes: of the first run',
    '',
    '| | scenario | server | queries/s (median) | runs | avg latency ms | lost | response codes |',
    '| --- | --- | --- | ---: | --- | ---: | ---: | --- |',
    ...rows,
    '',
  ].join('\n');
  writeFileSync(options.out, report);
  process.stdout.write(report);
};

main().catch((error: unknown) => {
  process.stderr.write(`[dns-bench] ${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
