/**
 * S1's load: wrk with a Lua script. Through a proxy, the script sets an absolute-form request
 * target (`wrk.path = "http://127.0.0.1:ORIGIN/1k"`) and the origin's Host, while wrk connects
 * to the proxy; direct, wrk asks the origin for /1k. A `done` hook prints machine-readable totals.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Janitor } from './janitor.js';
import type { RunOutcome } from './outcome.js';
import { pinned, runCommand, shellLine, type CpuPlan } from './procs.js';

const DONE_HOOK = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.3f %.3f\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

export interface WrkRun {
  readonly janitor: Janitor;
  readonly cpus: CpuPlan;
  readonly scriptDir: string;
  readonly originPort: number;
  readonly path: string;
  /** undefined: straight to the origin. */
  readonly proxyPort: number | undefined;
  readonly connections: number;
  readonly durationSec: number;
}

export const runWrk = async (run: WrkRun): Promise<RunOutcome> => {
  const authority = `127.0.0.1:${run.originPort}`;
  const viaProxy = run.proxyPort !== undefined;
  const script = path.join(run.scriptDir, viaProxy ? 'proxy.lua' : 'direct.lua');
  writeFileSync(script, viaProxy
    ? `wrk.path = "http://${authority}${run.path}"\nwrk.headers["Host"] = "${authority}"\n${DONE_HOOK}`
    : DONE_HOOK);
  const url = viaProxy ? `http://127.0.0.1:${run.proxyPort}/` : `http://${authority}${run.path}`;
  const wrkArgs = ['-t1', `-c${run.connections}`, `-d${run.durationSec}s`, '--latency', '-H', 'Connection: keep-alive', '-s', script, url];
  const [cmd, args] = pinned(run.cpus, run.cpus.loadCpu, 'wrk', wrkArgs);
  const command = shellLine(cmd, args);
  const result = await runCommand(cmd, args, (run.durationSec + 30) * 1000, run.janitor);
  const line = /WRK_RESULT ([\d. ]+)/.exec(result.stdout);
  if (!line?.[1]) {
    return { values: {}, errors: 1, detail: `wrk failed (code ${result.code}${result.timedOut ? ', timed out' : ''}): ${(result.stderr || result.stdout).trim().slice(0, 300)}`, command };
  }
  const [requests = 0, durationUs = 1, connect = 0, read = 0, write = 0, status = 0, timeout = 0, p50Us = Number.NaN, p99Us = Number.NaN] =
    line[1].trim().split(/\s+/).map(Number);
  const errors = connect + read + write + status + timeout;
  const rps = requests / (durationUs / 1e6);
  return {
    values: { rps, p50: p50Us / 1000, p99: p99Us / 1000, requests },
    errors,
    detail: `${requests} requests in ${(durationUs / 1e6).toFixed(2)} s = ${rps.toFixed(0)} req/s; non-2xx/3xx ${status}; socket errors connect ${connect}, read ${read}, write ${write}, timeout ${timeout}`,
    command,
  };
};
