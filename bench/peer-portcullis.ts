/** Portcullis, run exactly as users run it: the built CLI with a YAML config and a JSON access log. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerContext, ProxyPeer, RunningProxy } from './peer.js';
import { allOriginNames, ORIGIN_NAME } from './origin.js';
import { pinned, runCommand, startProcess } from './procs.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const configFor = (ctx: PeerContext, logFile: string, withLimits: boolean): string => {
  const ca = ctx.intercept;
  const names = ca ? allOriginNames() : [ORIGIN_NAME];
  return `# portcullis bench config${ca ? ' (interception: S4, S5, S8)' : ''}
listen:
  - address: 127.0.0.1:0
resolve:
${names.map((n) => `  ${n}: 127.0.0.1`).join('\n')}
destinations:
  allow_ranges: [127.0.0.0/8]
log: { format: json, file: ${logFile} }
${ca ? `# Minted leaves are signed by the bench's interception CA (the same one Squid and mitmproxy use);
# the origin's certificate is verified against the origin CA.
ca: { cert: ${ca.certFile}, key: ${ca.keyFile} }
upstream:
  tls: { extra_ca: [${ctx.origin.caFile}] }
` : `# S3p sends plain HTTP inside tunnels; the SNI peek still runs, a present SNI must still match.
missing_sni: allow
`}${withLimits ? '# S7 and the soak hold up to 10,000 connections from one client address (default caps: 1,000 per client, 10,000 per listener).\nlimits: { max_connections: 20000, max_connections_per_client: 20000 }\n' : ''}rules:
${ca ? `  - name: bench-origin-inspect
    hosts: [${ORIGIN_NAME}, '*.${ORIGIN_NAME}']
    ports: [${ctx.origin.httpsPort}]
    # inspect: decrypt every tunnel to these hosts and pass each request through the policy.
    inspect: true
` : `  - name: bench-origin
    hosts: [127.0.0.1, ${ORIGIN_NAME}]
    ports: [${ctx.origin.httpPort}, ${ctx.origin.httpsPort}]
`}`;
};

export const portcullisPeer: ProxyPeer = {
  id: 'portcullis',
  label: 'Portcullis',
  canIntercept: true,
  unavailable: (root = REPO_ROOT) => (existsSync(path.join(root, 'dist', 'cli', 'main.js')) ? undefined : `not built (no ${path.join(root, 'dist')}; npm run build)`),
  version: async (root = REPO_ROOT) => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string };
    return `portcullis ${pkg.version ?? '?'} (node ${process.version})`;
  },
  async start(ctx): Promise<RunningProxy> {
    const dir = ctx.janitor.tempDir('portcullis');
    const file = path.join(dir, 'portcullis.yaml');
    const bin = path.join(ctx.portcullisRoot, 'bin', 'portcullis.js');
    // Builds from before the `limits:` section reject it as an unknown key: check, then fall back.
    let configText = configFor(ctx, path.join(dir, 'access.log'), true);
    writeFileSync(file, configText);
    const checked = await runCommand(process.execPath, [bin, 'check', '-c', file], 20_000);
    if (checked.code !== 0) {
      configText = configFor(ctx, path.join(dir, 'access.log'), false);
      writeFileSync(file, configText);
    }
    // BENCH_PORTCULLIS_NODE_ARGS: extra node flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a scenario.
    const nodeArgs = (process.env.BENCH_PORTCULLIS_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
    const [cmd, args] = pinned(ctx.cpus, ctx.cpus.proxyCpu, process.execPath, [...nodeArgs, bin, 'run', '-c', file, ...(ctx.workers !== undefined ? ['--workers', String(ctx.workers)] : [])]);
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
