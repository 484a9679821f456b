/**
 * CPU time of a process tree, from /proc/PID/stat (utime + stime of every live process in the
 * tree, Linux only): read before and after a run, the difference ÷ requests is the proxy's CPU
 * cost per request. Children that exit during the run are missed (none of the proxies' request
 * paths fork).
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { processTree } from './rss.js';

let ticksPerSecond: number | undefined;
const clockTicks = (): number => {
  if (ticksPerSecond === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 });
    const n = Number(out.stdout?.trim());
    ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
};

const cpuTicksOf = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the last ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11] ?? 0) + Number(rest[12] ?? 0);
  } catch {
    return 0;
  }
};

/** CPU milliseconds (user + system) used so far by the process tree rooted at pid. */
export const treeCpuMs = (root: number): number => {
  const ticks = processTree(root).reduce((sum, pid) => sum + cpuTicksOf(pid), 0);
  return (ticks * 1000) / clockTicks();
};
