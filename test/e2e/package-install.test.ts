import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { curl, runCommand } from '../helpers/clients.js';
import { ROOT, startProgram } from '../helpers/cli-process.js';
import { startHttpOrigin } from '../helpers/origin.js';

// The package as users install it: `npm pack` of the built tree, then a global install of the
// tarball with --omit=dev into an empty prefix, run from an empty directory with no clone beside
// it (module resolution from the prefix never reaches this checkout).

const NODE_DIR = path.dirname(process.execPath);
/**
 * The environment of a user of this machine, minus what `npm test` adds (npm_* variables), with
 * this machine's global npm config (registry CA, node headers) kept: `--prefix` alone would look
 * for it under the new, empty prefix.
 */
const cleanEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  env.PATH = `${NODE_DIR}:/usr/local/bin:/usr/bin:/bin`;
  env.npm_config_globalconfig = execFileSync('npm', ['config', 'get', 'globalconfig'], { encoding: 'utf8', env }).trim();
  return env;
};

const tempDir = (t: { after(fn: () => void): void }, prefix: string): string => {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

test('npm pack, then npm install -g --omit=dev of the tarball into an empty prefix: portcullis run serves an allowed and a denied request', { timeout: 300_000 }, async (t) => {
  assert.ok(existsSync(path.join(ROOT, 'dist', 'index.js')), 'dist/ is missing: run `npm run build` first (scripts/test.sh does)');
  const work = tempDir(t, 'pcl-pkg-');
  const prefix = path.join(work, 'prefix');
  const empty = path.join(work, 'empty');
  for (const dir of [prefix, empty]) mkdirSync(dir);
  const env = cleanEnv();

  // The suite built dist/ already; --ignore-scripts packs that build instead of building again.
  const packed = await runCommand('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work, ROOT], { env, timeoutMs: 120_000 });
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  assert.ok(info);
  const files = info.files.map((f) => f.path);
  for (const needed of ['bin/portcullis.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/web/index.html', 'native/original-dst/build.mjs']) {
    assert.ok(files.includes(needed), `the tarball lacks ${needed}`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('node_modules/')), 'the tarball ships tests, sources or node_modules');

  const tarball = path.join(work, info.filename);
  const installed = await runCommand('npm', [
    'install', '-g', '--prefix', prefix, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', tarball,
  ], { env, timeoutMs: 240_000 });
  assert.equal(installed.code, 0, `npm install failed:\n${installed.stdout}\n${installed.stderr}`);
  const packageDir = path.join(prefix, 'lib', 'node_modules', 'portcullis');
  const deps = readdirSync(path.join(packageDir, 'node_modules'));
  assert.ok(deps.includes('undici'), 'undici (imported at run time) was not installed');
  assert.ok(deps.includes('tsx'), 'tsx (loads TypeScript addons at run time) was not installed');
  for (const dev of ['typescript', 'eslint', '@types']) assert.ok(!deps.includes(dev), `dev dependency ${dev} was installed`);

  // The library entry point resolves and exports the public API.
  const imported = await runCommand(process.execPath, ['--input-type=module', '-e',
    "const m = await import('portcullis'); console.log(Object.keys(m).sort().join(','));",
  ], { env, timeoutMs: 20_000, cwd: path.join(prefix, 'lib') });
  assert.equal(imported.code, 0, imported.stderr);
  for (const name of ['createProxy', 'loadConfig', 'ProxyConfigSchema', 'formatProblem']) assert.match(imported.stdout, new RegExp(`\\b${name}\\b`));

  const origin = await startHttpOrigin(t);
  const config = path.join(empty, 'portcullis.yaml');
  writeFileSync(config, `listen:
  - address: 127.0.0.1:0
admin: { address: 127.0.0.1:0 }
state_dir: ./state
resolve: { allowed.test: 127.0.0.1, denied.test: 127.0.0.1 }
destinations: { allow_ranges: [127.0.0.0/8] }
log: { format: json, file: "-" }
addons: [./addons/tenant-gate.ts, ./addons/tag.mjs]
rules:
  - { name: allowed-origin, hosts: [allowed.test], ports: [${origin.port}] }
`);
  // Addons beside the config, with no node_modules and no package.json near them, import
  // 'portcullis' as the docs show: a TypeScript one (compiled to CommonJS) and an ES module.
  mkdirSync(path.join(empty, 'addons'));
  writeFileSync(path.join(empty, 'addons', 'tenant-gate.ts'), `import { defineAddon, normalizePath } from 'portcullis';
export default defineAddon({
  name: 'tenant-gate',
  requestHeaders(flow) {
    const tenant: string | undefined = flow.request.headers['x-tenant'];
    const normalized = normalizePath(flow.request.path);
    if (!tenant) return { verdict: 'deny', reason: 'X-Tenant missing on ' + (normalized.ok ? normalized.path : 'an ambiguous path') };
    return undefined;
  },
});
`);
  writeFileSync(path.join(empty, 'addons', 'tag.mjs'), `import { defineAddon } from 'portcullis';
export default defineAddon({ name: 'tag', requestHeaders(flow) { flow.request.headers['x-tagged'] = 'yes'; } });
`);
  const check = await runCommand(path.join(prefix, 'bin', 'portcullis'), ['check', '-c', config], { env, cwd: empty });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const cli = startProgram(t, path.join(prefix, 'bin', 'portcullis'), ['run', '-c', config, '--workers', '1'], { cwd: empty, env });
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/, 'stderr', 20_000);
  const proxy = `http://${address}`;
  const allowed = await curl(['-x', proxy, '-H', 'X-Tenant: a', `http://allowed.test:${origin.port}/from-the-tarball`]);
  assert.equal(allowed.status, 200, allowed.stderr);
  assert.equal(origin.seen[0]?.headers['x-tagged'], 'yes');
  const noTenant = await curl(['-x', proxy, `http://allowed.test:${origin.port}/no-tenant`]);
  assert.equal(noTenant.status, 403);
  assert.match(noTenant.body, /X-Tenant missing on \/no-tenant/);
  const denied = await curl(['-x', proxy, '-H', 'X-Tenant: a', `http://denied.test:${origin.port}/never`]);
  assert.equal(denied.status, 403);
  assert.deepEqual(origin.seen.map((r) => r.url), ['/from-the-tarball']);
  await cli.waitFor(/"reason":"no-rule-matched"/, 'stdout');
  assert.equal(await cli.stop(), 0);
});

test('npm install on a fresh copy of package.json and package-lock.json leaves the lockfile byte-identical', { timeout: 180_000 }, async (t) => {
  const work = tempDir(t, 'pcl-lock-');
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(path.join(ROOT, file), path.join(work, file));
  const before = readFileSync(path.join(work, 'package-lock.json'));
  const result = await runCommand('npm', ['install', '--package-lock-only', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
    env: cleanEnv(), cwd: work, timeoutMs: 170_000,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(readFileSync(path.join(work, 'package-lock.json')).equals(before), 'npm install rewrote package-lock.json');
});
