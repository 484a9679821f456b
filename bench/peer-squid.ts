/**
 * Squid as a plain forward proxy: no cache, one worker, access log in its own temp dir, run in
 * the foreground (`squid -N`). It drops privileges to Debian's `proxy` user, so its dir is 0777.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ProxyPeer, RunningProxy } from './peer.js';
import { commandExists, freePort, pinned, runCommand, startProcess, waitForPort } from './procs.js';

const configFor = (dir: string, port: number): string => `# squid bench config
http_port 127.0.0.1:${port}
workers 1
http_access allow localhost
http_access deny all
cache deny all
cache_mem 0 MB
access_log daemon:${dir}/access.log squid
cache_log ${dir}/cache.log
pid_filename ${dir}/squid.pid
coredump_dir ${dir}
max_filedescriptors 65536
shutdown_lifetime 1 seconds
pinger_enable off
visible_hostname portcullis-bench
logfile_rotate 0
`;

export const squidPeer: ProxyPeer = {
  id: 'squid',
  label: 'Squid',
  unavailable: () => (commandExists('squid') ? undefined : 'not installed'),
  version: async () => {
    const v = await runCommand('squid', ['-v'], 10_000);
    return (v.stdout.split('\n')[0] ?? '').trim() || 'squid (unknown version)';
  },
  async start(ctx): Promise<RunningProxy> {
    const dir = ctx.janitor.tempDir('squid');
    chmodSync(dir, 0o777);
    const port = await freePort();
    const file = path.join(dir, 'squid.conf');
    const configText = configFor(dir, port);
    writeFileSync(file, configText);
    const [cmd, args] = pinned(ctx.cpus, ctx.cpus.proxyCpu, 'squid', ['-N', '-f', file]);
    const proc = startProcess(ctx.janitor, 'squid', cmd, args, { cwd: dir });
    await waitForPort(port, 20_000, proc);
    return {
      port,
      pid: proc.pid,
      commandLine: proc.commandLine,
      configText,
      stop: async () => { await proc.stop(5000); ctx.janitor.removeDir(dir); },
    };
  },
};
