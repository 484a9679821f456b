/** Command-line options of bench/bench.ts. */

export interface BenchOptions {
  readonly runs: number;
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly connections: number;
  readonly tunnels: number;
  readonly scenarios: readonly string[] | undefined;
  readonly peers: readonly string[] | undefined;
  readonly out: string;
  readonly quick: boolean;
  /** Checkout to benchmark (its bin/portcullis.js and dist/); default: this repository. */
  readonly portcullis: string | undefined;
  /** Git ref to export and build into a temp dir and benchmark instead. */
  readonly portcullisRef: string | undefined;
  /** Git ref built the same way and measured as one more column, "Portcullis REF", in the same run. */
  readonly baselineRef: string | undefined;
  /** Before each target: wait up to this many seconds for the machine to be < 20 % busy. */
  readonly waitQuietSec: number;
  /** Processes per proxy (Portcullis --workers N, Squid workers N); undefined: each at its default. */
  readonly workers: number | undefined;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick             3 s per run, 1 run, 1 s warm-up (for debugging)
  --runs N            runs per throughput scenario, median reported (default 3)
  --duration S        seconds per run (default 10)
  --warmup S          unmeasured warm-up seconds per target and scenario (default 2)
  --connections N     concurrent connections for S1-S5 (default 50)
  --tunnels N         idle tunnels for S7 and S7i (default 2000, at most 10000)
  --scenarios LIST    e.g. S1,S2,S6a (default: all: S1,S2,S3,S3p,S4,S5,S6a,S6b,S6c,S7,S7i,S8)
                      (S4, S5, S6c, S7i, S8: TLS interception; tinyproxy is n/a there)
  --peers LIST        e.g. portcullis,squid (default: all: portcullis,squid,tinyproxy,mitmproxy)
  --out FILE          results file (default bench/results/latest.md)
  --portcullis DIR    benchmark the Portcullis checkout in DIR (built: DIR/dist) instead of this one
  --portcullis-ref R  benchmark git ref R (e.g. HEAD), exported with git archive and built in a temp dir
  --baseline-ref R    also benchmark git ref R (e.g. HEAD~1) in the same run, as a column
                      "Portcullis R" beside Portcullis, with a "Portcullis / R" ratio column
  --wait-quiet S      before each run, wait up to S s for the machine to be < 20 % busy (default 0)
  --workers N         equal process counts: Portcullis --workers N and Squid \`workers N\`
                      (default: each at its own default: Portcullis one worker per CPU it may
                      use, which pinned to one CPU is 1; Squid 1); pins proxies to CPUs 0..N-1
                      when the machine has N+1 CPUs, else nothing is pinned`;

const positiveInt = (name: string, value: string | undefined, max: number): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} needs an integer from 1 to ${max}, got ${value}`);
  return n;
};

export const parseArgs = (argv: readonly string[]): BenchOptions | 'help' => {
  let runs = 3;
  let durationSec = 10;
  let warmupSec = 2;
  let connections = 50;
  let tunnels = 2000;
  let scenarios: string[] | undefined;
  let peers: string[] | undefined;
  let out = 'bench/results/latest.md';
  let quick = false;
  let portcullis: string | undefined;
  let portcullisRef: string | undefined;
  let baselineRef: string | undefined;
  let waitQuietSec = 0;
  let workers: number | undefined;
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string | undefined => argv[++i];
    switch (arg) {
      case '--help': case '-h': return 'help';
      case '--quick': quick = true; break;
      case '--runs': runs = positiveInt(arg, value(), 20); explicit.add('runs'); break;
      case '--duration': durationSec = positiveInt(arg, value(), 120); explicit.add('duration'); break;
      case '--warmup': warmupSec = positiveInt(arg, value(), 60); explicit.add('warmup'); break;
      case '--connections': connections = positiveInt(arg, value(), 1000); break;
      case '--tunnels': tunnels = positiveInt(arg, value(), 10000); break;
      case '--scenarios': scenarios = (value() ?? '').split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--peers': peers = (value() ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean); break;
      case '--out': out = value() ?? out; break;
      case '--portcullis': portcullis = value(); break;
      case '--portcullis-ref': portcullisRef = value(); break;
      case '--baseline-ref': baselineRef = value(); break;
      case '--wait-quiet': waitQuietSec = positiveInt(arg, value(), 600); break;
      case '--workers': workers = positiveInt(arg, value(), 64); break;
      default: throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  if (quick) {
    if (!explicit.has('runs')) runs = 1;
    if (!explicit.has('duration')) durationSec = 3;
    if (!explicit.has('warmup')) warmupSec = 1;
  }
  return { runs, durationSec, warmupSec, connections, tunnels, scenarios, peers, out, quick, portcullis, portcullisRef, baselineRef, waitQuietSec, workers };
};
