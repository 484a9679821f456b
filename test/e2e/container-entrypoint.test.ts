import assert from 'node:assert/strict';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { curl, runCommand } from '../helpers/clients.js';
import { ROOT, startProgram } from '../helpers/cli-process.js';
import { parseDockerfile } from '../helpers/dockerfile-lint.js';

// The image's assumptions, checked without a container engine: the Dockerfile's own ENTRYPOINT,
// CMD, USER, VOLUME and HEALTHCHECK, run on this machine with the baked config, as the image's
// non-root user, against a state directory that is a writable "volume", read-only, or missing.

const runtime = (() => {
  const all = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  return all.slice(all.map((i) => i.keyword).lastIndexOf('FROM') + 1);
})();
const arg = (keyword: string): string => runtime.filter((i) => i.keyword === keyword).at(-1)!.args;
const [uid, gid] = arg('USER').split(':').map(Number) as [number, number];
const volume = (JSON.parse(arg('VOLUME')) as string[])[0]!;
const entrypoint = JSON.parse(arg('ENTRYPOINT')) as string[];
const cmd = JSON.parse(arg('CMD')) as string[];
const bakedConfigPath = cmd[cmd.indexOf('-c') + 1]!;
const healthcheck = JSON.parse(arg('HEALTHCHECK').replace(/^.*?CMD\s+/, '')) as string[];
const asRoot = process.getuid?.() === 0;

interface Container {
  readonly dir: string;
  readonly state: string;
  /** The image's ENTRYPOINT + CMD with image paths mapped to this checkout. */
  readonly argv: string[];
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The program as the image holds it (/opt/portcullis): package.json, bin, dist and the runtime
 * dependencies, copied out of the checkout, which the image's user may not be able to read (a
 * CI clone under a 0700 directory).
 */
const installLikeTheImage = (target: string): string => {
  for (const entry of ['package.json', 'bin', 'dist']) cpSync(path.join(ROOT, entry), path.join(target, entry), { recursive: true });
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  for (const [key, meta] of Object.entries(lock.packages)) {
    // Top-level runtime packages; what is nested in them comes with them.
    if (!key.startsWith('node_modules/') || meta.dev === true || key.lastIndexOf('node_modules/') !== 0) continue;
    if (existsSync(path.join(ROOT, key))) cpSync(path.join(ROOT, key), path.join(target, key), { recursive: true });
  }
  return path.join(target, 'bin', 'portcullis.js');
};

/** Lays out the "image" in a temp dir: the program, the baked config (state_dir -> the volume path here). */
const container = (t: TestContext, stateSetup: 'volume' | 'read-only' | 'missing'): Container => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-image-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // like /: root-owned, not writable by the image's user
  const state = path.join(dir, 'state');
  if (stateSetup !== 'missing') {
    mkdirSync(state);
    if (stateSetup === 'volume') {
      chownSync(state, uid, gid);
      chmodSync(state, 0o700);
    } else {
      chmodSync(state, 0o555);
    }
  }
  const baked = readFileSync(path.join(ROOT, 'deploy', 'container', 'portcullis.yaml'), 'utf8');
  assert.ok(baked.includes(`state_dir: ${volume}`));
  const config = path.join(dir, 'portcullis.yaml');
  writeFileSync(config, baked.replace(`state_dir: ${volume}`, `state_dir: ${state}`).replace(/0\.0\.0\.0:\d+/g, '0.0.0.0:0'));
  chmodSync(config, 0o644);
  const bin = installLikeTheImage(path.join(dir, 'opt', 'portcullis'));
  const argv = [...entrypoint, ...cmd].flatMap((word) => (word === 'portcullis' ? [process.execPath, bin] : word === bakedConfigPath ? [config] : [word]));
  return { dir, state, argv, env: { PATH: process.env.PATH, NODE_ENV: 'production', HOME: state } };
};

const startAsImageUser = (t: TestContext, c: Container, extra: string[] = []): ReturnType<typeof startProgram> =>
  startProgram(t, c.argv[0]!, [...c.argv.slice(1), ...extra], { cwd: c.dir, env: c.env, uid, gid });

test('the image entrypoint, as its non-root user with a writable state volume: serves, passes its HEALTHCHECK, keeps CA and token private, exits 0 on SIGTERM', { skip: !asRoot && 'needs root to switch to the image user' }, async (t) => {
  const c = container(t, 'volume');
  const cli = startAsImageUser(t, c, ['--workers', '1']);
  const [, address] = await cli.waitFor(/listening on http:\/\/[\d.]+:(\d+)/, 'stderr', 20_000);
  const [, adminPort] = await cli.waitFor(/admin API on http:\/\/[^/]+:(\d+)\//, 'stderr', 20_000);
  assert.match(readFileSync(`/proc/${cli.pid}/status`, 'utf8'), new RegExp(`Uid:\\s+${uid}\\s`));
  const denied = await curl(['-x', `http://127.0.0.1:${address}`, 'http://not-in-the-policy.test/']);
  assert.equal(denied.status, 403);
  // The Dockerfile's own HEALTHCHECK command, pointed at this run's admin port.
  const probe = healthcheck.map((word) => word.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${adminPort}`));
  const health = await runCommand(probe[0] === 'node' ? process.execPath : probe[0]!, probe.slice(1), { timeoutMs: 10_000 });
  assert.equal(health.code, 0, health.stderr);
  for (const file of ['ca.pem', 'ca-key.pem', 'admin-token']) assert.equal(statSync(path.join(c.state, file)).uid, uid, `${file} is not the image user's`);
  for (const file of ['ca-key.pem', 'admin-token']) assert.equal(statSync(path.join(c.state, file)).mode & 0o077, 0, `${file} is readable by others`);
  assert.equal(await cli.stop(), 0);
});

for (const setup of ['read-only', 'missing'] as const) {
  test(`the image entrypoint with a ${setup} state volume stops at once with a clear error naming the directory and the fix`, { skip: !asRoot && 'needs root to switch to the image user' }, async (t) => {
    const c = container(t, setup);
    const cli = startAsImageUser(t, c, ['--workers', '1']);
    const code = await new Promise<number | null>((resolve) => cli.child.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(cli.stderr(), new RegExp(`cannot create the CA in ${c.state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: permission denied \\(EACCES\\)`));
    assert.match(cli.stderr(), new RegExp(`uid ${uid}\\) can write.*mount a writable volume there`));
  });
}
