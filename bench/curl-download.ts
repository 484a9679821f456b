/** S6's measurement: one curl download of the large file, checked for status 200 and full size. */
import type { Janitor } from './janitor.js';
import type { RunOutcome } from './outcome.js';
import { pinned, runCommand, shellLine, type CpuPlan } from './procs.js';

export interface DownloadRun {
  readonly janitor: Janitor;
  readonly cpus: CpuPlan;
  readonly url: string;
  readonly expectedBytes: number;
  /** undefined: straight to the origin. */
  readonly proxyPort: number | undefined;
  /** For https:// URLs: the CA that verifies the origin. */
  readonly caFile: string | undefined;
}

export const runDownload = async (run: DownloadRun): Promise<RunOutcome> => {
  const curlArgs = ['-sS', '--max-time', '120', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{speed_download}'];
  const url = new URL(run.url);
  if (run.caFile) curlArgs.push('--cacert', run.caFile);
  if (run.proxyPort !== undefined) {
    // https:// through a proxy: curl sends CONNECT host:port and the proxy resolves the name.
    curlArgs.push('-x', `http://127.0.0.1:${run.proxyPort}`);
  } else if (url.hostname !== '127.0.0.1') {
    curlArgs.push('--resolve', `${url.hostname}:${url.port}:127.0.0.1`);
  }
  curlArgs.push(run.url);
  const [cmd, args] = pinned(run.cpus, run.cpus.loadCpu, 'curl', curlArgs);
  const command = shellLine(cmd, args);
  const result = await runCommand(cmd, args, 150_000, run.janitor);
  const [code = 0, size = 0, speed = 0] = result.stdout.trim().split(/\s+/).map(Number);
  const ok = result.code === 0 && code === 200 && size === run.expectedBytes;
  const mbps = speed / 1e6;
  return {
    values: { mbps: ok ? mbps : Number.NaN },
    errors: ok ? 0 : 1,
    detail: `HTTP ${code}, ${size} bytes, ${mbps.toFixed(1)} MB/s${ok ? '' : ` (curl exit ${result.code}${result.timedOut ? ', timed out' : ''}: ${result.stderr.trim().slice(0, 200)})`}`,
    command,
  };
};
