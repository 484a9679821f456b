import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { curl, runCommand } from '../helpers/clients.js';
import { ROOT, startProgram } from '../helpers/cli-process.js';
import { startHttpOrigin, startHttpsOrigin } from '../helpers/origin.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

// `npm run build:sea` makes one file; copied alone into an empty directory and run with a PATH
// that has no node (nor anything else), it must do everything the npm package does.
// The build takes ~15 s, so it runs once here (after `npm run build`, which scripts/test.sh does).

/** The glibc the README promises the single executable runs on (see README "Install"). */
const README_GLIBC = /single executable needs glibc (\d+\.\d+)/;

const glibcNeeded = (file: string): string => {
  const versions = execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    .match(/GLIBC_\d+\.\d+(\.\d+)?/g) ?? [];
  const numbers = versions.map((v) => v.slice(6).split('.').map(Number));
  numbers.sort((a, b) => (a[0]! - b[0]!) || ((a[1] ?? 0) - (b[1] ?? 0)) || ((a[2] ?? 0) - (b[2] ?? 0)));
  return numbers.at(-1)?.slice(0, 2).join('.') ?? '0.0';
};
const atMost = (needed: string, promised: string): boolean => {
  const [a = 0, b = 0] = needed.split('.').map(Number);
  const [c = 0, d = 0] = promised.split('.').map(Number);
  return a < c || (a === c && b <= d);
};

test('the single executable, alone in an empty directory with no node on its PATH, runs run, check, explain and ca export', { timeout: 300_000 }, async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'pcl-sea-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const built = await runCommand(process.execPath, [path.join(ROOT, 'scripts', 'build-sea.mjs')], { timeoutMs: 240_000, cwd: ROOT, env: process.env });
  assert.equal(built.code, 0, built.stderr);
  const addonBuilt = existsSync(path.join(ROOT, 'native', 'original-dst', 'build', 'Release', 'original_dst.node'));

  const alone = path.join(work, 'alone');
  const elsewhere = path.join(work, 'configs');
  mkdirSync(alone);
  mkdirSync(elsewhere);
  const exe = path.join(alone, 'portcullis');
  copyFileSync(path.join(ROOT, 'build', 'sea', 'portcullis'), exe);
  execFileSync('chmod', ['755', exe]);
  const emptyBin = path.join(work, 'empty-bin');
  mkdirSync(emptyBin);
  const env: NodeJS.ProcessEnv = { PATH: emptyBin, HOME: alone, LANG: 'C' };
  const sea = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => runCommand(exe, args, { env, cwd: alone, timeoutMs: 30_000 });

  // The glibc it needs is no newer than the README says.
  const promised = README_GLIBC.exec(readFileSync(path.join(ROOT, 'README.md'), 'utf8'))?.[1];
  assert.ok(promised, 'README.md does not state the glibc the single executable needs');
  assert.ok(atMost(glibcNeeded(exe), promised), `the executable needs glibc ${glibcNeeded(exe)}, README says ${promised}`);
  if (addonBuilt) {
    const addon = path.join(ROOT, 'native', 'original-dst', 'build', 'Release', 'original_dst.node');
    assert.ok(atMost(glibcNeeded(addon), promised), `the addon needs glibc ${glibcNeeded(addon)}`);
  }

  const version = await sea(['--version']);
  assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);

  const origin = await startHttpOrigin(t);
  const certs = makeOriginCertificates(['secure.test']);
  const secure = await startHttpsOrigin(t, { cert: certs.cert, key: certs.key });
  const config = path.join(elsewhere, 'portcullis.yaml');
  writeFileSync(config, `listen:
  - address: 127.0.0.1:0
  - { address: 127.0.0.1:0, mode: transparent-http }
admin: { address: 127.0.0.1:0 }
state_dir: ${alone}/state
upstream: { tls: { extra_ca: [${certs.caCertPath}] } }
resolve: { allowed.test: 127.0.0.1, denied.test: 127.0.0.1, secure.test: 127.0.0.1 }
destinations: { allow_ranges: [127.0.0.0/8] }
log: { format: json, file: "-" }
rules:
  - { name: allowed-origin, hosts: [allowed.test], ports: [${origin.port}] }
  - { name: secure-path, hosts: [secure.test], ports: [${secure.port}], paths: [/ok] }
`);

  const check = await sea(['check', '-c', config]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const broken = path.join(elsewhere, 'broken.yaml');
  writeFileSync(broken, 'rules:\n  - name: x\n    hostz: [a.example]\n');
  const refused = await sea(['check', '-c', broken]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout + refused.stderr, /broken\.yaml:3/);
  const explained = await sea(['explain', '-c', config, 'GET', `https://secure.test:${secure.port}/ok/x`]);
  assert.equal(explained.code, 0, explained.stdout + explained.stderr);
  assert.match(explained.stdout, /ALLOW.*secure-path/);

  const cli = startProgram(t, exe, ['run', '-c', config, '--workers', '2'], { cwd: alone, env });
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/, 'stderr', 30_000);
  const [, admin] = await cli.waitFor(/admin API on http:\/\/(127\.0\.0\.1:\d+)/, 'stderr', 30_000);
  const proxy = `http://${address}`;

  const exported = await sea(['ca', 'export', '-c', config]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /^-----BEGIN CERTIFICATE-----/);
  assert.equal(exported.stdout.trim(), readFileSync(path.join(alone, 'state', 'ca.pem'), 'utf8').trim());
  const caFile = path.join(work, 'portcullis-ca.pem');
  writeFileSync(caFile, exported.stdout);

  assert.equal((await curl(['-x', proxy, `http://allowed.test:${origin.port}/plain`])).status, 200);
  assert.equal((await curl(['-x', proxy, `http://denied.test:${origin.port}/never`])).status, 403);
  // Interception: a certificate minted by the executable's CA, the request judged inside.
  const intercepted = await curl(['--cacert', caFile, '-x', proxy, `https://secure.test:${secure.port}/ok/inside`]);
  assert.equal(intercepted.status, 200, intercepted.stderr);
  assert.equal((await curl(['--cacert', caFile, '-x', proxy, `https://secure.test:${secure.port}/other`])).status, 403);
  assert.deepEqual(origin.seen.map((r) => r.url), ['/plain']);
  assert.deepEqual(secure.seen.map((r) => r.url), ['/ok/inside']);

  // The dashboard and health endpoints come from inside the file.
  const page = await curl([`http://${admin}/`]);
  assert.equal(page.status, 200);
  assert.match(page.body, /<html/i);
  assert.equal((await curl([`http://${admin}/healthz`])).status, 200);

  // The SO_ORIGINAL_DST addon: loaded from inside the file, or a clear message why not.
  if (addonBuilt) await cli.waitFor(/original destinations read with SO_ORIGINAL_DST/, 'stderr');
  else await cli.waitFor(/built without the SO_ORIGINAL_DST addon/, 'stderr');
  assert.deepEqual(readdirSync(alone).sort(), ['portcullis', 'state']);
  assert.equal(await cli.stop(), 0);
});
