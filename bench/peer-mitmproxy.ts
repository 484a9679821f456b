/**
 * mitmproxy's mitmdump as a regular forward proxy; large bodies are streamed
 * (`stream_large_bodies=1m`) instead of buffered; its one-line-per-flow output goes to a file.
 * Tunnel scenarios: CONNECT tunnels are passed through without interception (`ignore_hosts=.*`),
 * like Portcullis splicing. Interception scenarios (S4, S5, S8): no ignore_hosts, so every tunnel
 * is decrypted with leaves signed by the bench CA (copied to `confdir/mitmproxy-ca.pem`), and
 * the origin is verified against the origin CA (`ssl_verify_upstream_trusted_ca`).
 */
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import type { ProxyPeer, RunningProxy } from './peer.js';
import { commandExists, freePort, pinned, runCommand, shellLine, startProcess, waitForPort } from './procs.js';

export const mitmproxyPeer: ProxyPeer = {
  id: 'mitmproxy',
  label: 'mitmproxy',
  canIntercept: true,
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
      '--set', `confdir=${dir}`, '--set', 'stream_large_bodies=1m', '--set', 'flow_detail=1',
    ];
    if (ctx.intercept) {
      copyFileSync(ctx.intercept.bundleFile, path.join(dir, 'mitmproxy-ca.pem'));
      mitmArgs.push('--set', `ssl_verify_upstream_trusted_ca=${ctx.origin.caFile}`);
    } else {
      mitmArgs.push('--set', 'ignore_hosts=.*');
    }
    const [cmd, args] = pinned(ctx.cpus, ctx.cpus.proxyCpu, 'mitmdump', mitmArgs);
    const logFile = path.join(dir, 'flows.log');
    // A shell only to redirect the flow lines to a file; `exec` keeps the pid mitmdump's.
    const shellCommand = `exec ${[cmd, ...args].map((a) => `'${a}'`).join(' ')} > '${logFile}' 2>&1`;
    const [wcmd, wargs] = ctx.hosts.wrap('sh', ['-c', shellCommand]);
    const proc = startProcess(ctx.janitor, 'mitmproxy', wcmd, wargs, { cwd: dir });
    await waitForPort(port, 30_000, proc);
    const configText = ctx.intercept
      ? `(command-line options only; confdir/mitmproxy-ca.pem = the bench interception CA's key and certificate)\n`
      : `(command-line options only)\n`;
    return {
      port,
      pid: proc.pid,
      commandLine: shellLine(wcmd, wargs),
      configText,
      stop: async () => { await proc.stop(); ctx.janitor.removeDir(dir); },
    };
  },
};
