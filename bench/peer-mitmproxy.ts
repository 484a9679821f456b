/**
 * mitmproxy's mitmdump as a regular forward proxy. CONNECT tunnels are passed through without
 * interception (`ignore_hosts=.*`), like Portcullis splicing; large bodies are streamed
 * (`stream_large_bodies=1m`) instead of buffered; its one-line-per-flow output goes to a file.
 */
import path from 'node:path';
import type { ProxyPeer, RunningProxy } from './peer.js';
import { commandExists, freePort, pinned, runCommand, startProcess, waitForPort } from './procs.js';

export const mitmproxyPeer: ProxyPeer = {
  id: 'mitmproxy',
  label: 'mitmproxy',
  unavailable: () => (commandExists('mitmdump') ? undefined : 'not installed'),
  version: async () => {
    const v = await runCommand('mitmdump', ['--version'], 30_000);
    return (v.stdout.split('\n')[0] ?? '').trim() || 'mitmproxy (unknown version)';
  },
  async start(ctx): Promise<RunningProxy> {
    const dir = ctx.janitor.tempDir('mitmproxy');
    const port = await freePort();
    const mitmArgs = [
      '--mode', 'regular', '--listen-host', '127.0.0.1', '--listen-port', String(port),
      '--set', `confdir=${dir}`, '--set', 'ignore_hosts=.*', '--set', 'stream_large_bodies=1m',
      '--set', 'flow_detail=1',
    ];
    const [cmd, args] = pinned(ctx.cpus, ctx.cpus.proxyCpu, 'mitmdump', mitmArgs);
    const logFile = path.join(dir, 'flows.log');
    // A shell only to redirect the flow lines to a file; `exec` keeps the pid mitmdump's.
    const shellCommand = `exec ${[cmd, ...args].map((a) => `'${a}'`).join(' ')} > '${logFile}' 2>&1`;
    const proc = startProcess(ctx.janitor, 'mitmproxy', 'sh', ['-c', shellCommand], { cwd: dir });
    await waitForPort(port, 30_000, proc);
    const configText = `(command-line options only)\n`;
    return {
      port,
      pid: proc.pid,
      commandLine: `${[cmd, ...args].join(' ')} > flows.log`,
      configText,
      stop: async () => { await proc.stop(); ctx.janitor.removeDir(dir); },
    };
  },
};
