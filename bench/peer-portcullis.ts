/** Portcullis, run exactly as users run it: the built CLI with a YAML config and a JSON access log. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerContext, ProxyPeer, RunningProxy } from './peer.js';
import { pinned, startProcess } from './procs.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(REPO_ROOT, 'bin', 'portcullis.js');

const configFor = (ctx: PeerContext, logFile: string): string => `# portcullis bench config
listen:
  - address: 127.0.0.1:0
destinations:
  allow_ranges: [127.0.0.0/8]
log: { format: json, file: ${logFile} }
rules:
  - name: bench-origin
    hosts: [127.0.0.1]
    ports: [${ctx.origin.httpPort}, ${ctx.origin.httpsPort}]
`;

export const portcullisPeer: ProxyPeer = {
  id: 'portcullis',
  label: 'Portcullis',
  unavailable: () => (existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'main.js')) ? undefined : 'not built (npm run build)'),
  version: async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
    return `portcullis ${pkg.version ?? '?'} (node ${process.version})`;
  },
  async start(ctx): Promise<RunningProxy> {
    const dir = ctx.janitor.tempDir('portcullis');
    const file = path.join(dir, 'portcullis.yaml');
    const configText = configFor(ctx, path.join(dir, 'access.log'));
    writeFileSync(file, configText);
    const [cmd, args] = pinned(ctx.cpus, ctx.cpus.proxyCpu, process.execPath, [BIN, 'run', '-c', file]);
    const proc = startProcess(ctx.janitor, 'portcullis', cmd, args, { cwd: dir });
    const match = await proc.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/, 15_000);
    return {
      port: Number(match[1]),
      pid: proc.pid,
      commandLine: proc.commandLine.replace(process.execPath, 'node'),
      configText,
      stop: async () => { await proc.stop(); ctx.janitor.removeDir(dir); },
    };
  },
};
