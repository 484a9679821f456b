/** tinyproxy in the foreground with its own config, log and pid file in a temp dir. */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ProxyPeer, RunningProxy } from './peer.js';
import { commandExists, freePort, pinned, runCommand, shellLine, startProcess, waitForPort } from './procs.js';

const configFor = (dir: string, port: number, connectPorts: readonly number[]): string => `# tinyproxy bench config
Port ${port}
Listen 127.0.0.1
Timeout 600
MaxClients 4096
Allow 127.0.0.1
${connectPorts.map((p) => `ConnectPort ${p}`).join('\n')}
LogFile "${dir}/tinyproxy.log"
LogLevel Info
PidFile "${dir}/tinyproxy.pid"
`;

export const tinyproxyPeer: ProxyPeer = {
  id: 'tinyproxy',
  label: 'tinyproxy',
  canIntercept: false,
  unavailable: () => (commandExists('tinyproxy') ? undefined : 'not installed'),
  version: async () => {
    const v = await runCommand('tinyproxy', ['-v'], 10_000);
    return `${v.stdout}${v.stderr}`.trim().split('\n')[0] ?? 'tinyproxy (unknown version)';
  },
  async start(ctx): Promise<RunningProxy> {
    const dir = ctx.janitor.tempDir('tinyproxy');
    chmodSync(dir, 0o777);
    const port = await freePort();
    const file = path.join(dir, 'tinyproxy.conf');
    const configText = configFor(dir, port, [ctx.origin.httpPort, ctx.origin.httpsPort]);
    writeFileSync(file, configText);
    const [cmd, args] = pinned(ctx.cpus, ctx.cpus.proxyCpu, 'tinyproxy', ['-d', '-c', file]);
    const [wcmd, wargs] = ctx.hosts.wrap(cmd, args);
    const proc = startProcess(ctx.janitor, 'tinyproxy', wcmd, wargs, { cwd: dir });
    await waitForPort(port, 15_000, proc);
    return {
      port,
      pid: proc.pid,
      commandLine: shellLine(wcmd, wargs),
      configText,
      stop: async () => { await proc.stop(); ctx.janitor.removeDir(dir); },
    };
  },
};
