/** Facts about the machine and the software versions, for the report. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { ProxyPeer } from './peer.js';
import { commandExists, runCommand } from './procs.js';

const firstLine = (text: string): string => (text.trim().split('\n')[0] ?? '').trim();

const cpuTimes = (): { busy: number; total: number } => {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
};

/** The 1-minute load average (runnable tasks, all processes on the machine). */
export const loadAverage = (): string => (readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?');

/** Share of all CPUs busy (0..100) over the next `ms`, from /proc/stat. */
export const cpuBusyPercent = async (ms: number): Promise<number> => {
  const a = cpuTimes();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = cpuTimes();
  return b.total > a.total ? (100 * (b.busy - a.busy)) / (b.total - a.total) : 0;
};

/**
 * Waits (at most maxSec) for a 1-second window in which the machine is less than
 * thresholdPercent busy; returns the last window's busy share and the seconds waited.
 */
export const waitForQuiet = async (maxSec: number, thresholdPercent = 20): Promise<{ busy: number; waitedSec: number }> => {
  const started = Date.now();
  for (;;) {
    const windowStart = Date.now();
    const busy = await cpuBusyPercent(1000);
    const waitedSec = Math.round((windowStart - started) / 1000);
    if (busy < thresholdPercent || Date.now() - started >= maxSec * 1000) return { busy, waitedSec };
  }
};

const toolVersion = async (cmd: string, args: string[]): Promise<string> => {
  if (!commandExists(cmd)) return 'not installed';
  const r = await runCommand(cmd, args, 30_000);
  return firstLine(`${r.stdout}\n${r.stderr}`.replace(/^\s+/, '')) || 'unknown';
};

export const describeMachine = async (peers: readonly ProxyPeer[], portcullisRoot: string): Promise<Array<[string, string]>> => {
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  let distro = 'unknown';
  try { distro = /PRETTY_NAME="?([^"\n]*)/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? distro; } catch { /* not Linux */ }
  const rows: Array<[string, string]> = [
    ['date', new Date().toISOString()],
    ['CPUs (nproc)', String(os.availableParallelism())],
    ['CPU model', cpuModel],
    ['memory', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['OS / kernel', `${distro} / Linux ${os.release()}`],
    ['node', process.version],
    ['nginx (origin)', await toolVersion('nginx', ['-v'])],
    ['wrk', await toolVersion('wrk', ['-v'])],
    ['curl', await toolVersion('curl', ['--version'])],
  ];
  for (const peer of peers) {
    rows.push([peer.label, peer.unavailable(portcullisRoot) ?? await peer.version(portcullisRoot).catch((e: Error) => `unknown (${e.message})`)]);
  }
  const commit = await runCommand('git', ['-C', portcullisRoot, 'rev-parse', '--short', 'HEAD'], 10_000);
  rows.push(['Portcullis build', `${portcullisRoot}${commit.code === 0 ? ` (git HEAD ${commit.stdout.trim()})` : ''}`]);
  return rows;
};
