import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { BIN, startCli } from '../helpers/cli-process.js';
import { curl, runCommand } from '../helpers/clients.js';
import { startHttpOrigin } from '../helpers/origin.js';

// Issue 5 through the real CLI: `portcullis run --admin`, reload through the API, the admin
// token off loopback (in a network namespace of the test's own), and the terminal summary.

const tempDir = (t: TestContext): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-admin-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const configFor = (originPort: number, extraRules = ''): string => `
listen:
  - address: 127.0.0.1:0
resolve:
  allowed.test: 127.0.0.1
  later.test: 127.0.0.1
destinations:
  allow_ranges: [127.0.0.0/8]
log: { format: json, file: ./access.log }
rules:
  - name: allowed-origin
    hosts: [allowed.test]
    ports: [${originPort}]
${extraRules}`;

test('run --admin serves the dashboard; POST /api/reload applies a good config and refuses a broken one, keeping the old policy', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = tempDir(t);
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, configFor(origin.port));
  const cli = startCli(t, ['-c', file, '--admin', '127.0.0.1:0']);
  const [, proxyAddress] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  const [, adminUrl] = await cli.waitFor(/dashboard and admin API on (http:\/\/127\.0\.0\.1:\d+\/)/);
  const proxy = `http://${proxyAddress}`;

  const page = await fetch(adminUrl as string);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<script type="module" src="app.js">/);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  const script = await fetch(new URL('app.js', adminUrl));
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /javascript/);
  assert.equal((await fetch(new URL('../../etc/passwd', adminUrl))).status, 404);

  assert.equal((await curl(['-x', proxy, `http://later.test:${origin.port}/`])).status, 403);
  writeFileSync(file, configFor(origin.port, `  - name: later\n    hosts: [later.test]\n    ports: [${origin.port}]\n`));
  const reload = async (): Promise<{ status: number; body: { ok?: boolean; rules?: number; problems?: string[] } }> => {
    const response = await fetch(new URL('api/reload', adminUrl), { method: 'POST' });
    return { status: response.status, body: await response.json() as { ok?: boolean; rules?: number; problems?: string[] } };
  };
  const good = await reload();
  assert.deepEqual([good.status, good.body.ok, good.body.rules], [200, true, 2]);
  await cli.waitFor(/config reloaded/);
  assert.equal((await curl(['-x', proxy, `http://later.test:${origin.port}/`])).status, 200);

  writeFileSync(file, 'rules:\n  - name: broken\n    hosts: ["*"]\n');
  const broken = await reload();
  assert.equal(broken.status, 422);
  assert.equal(broken.body.ok, false);
  assert.match(broken.body.problems?.[0] ?? '', /p\.yaml:3 rules\[0\]\.hosts\[0\]:/);
  assert.equal((await curl(['-x', proxy, `http://later.test:${origin.port}/`])).status, 200, 'the old policy stays in force');
  const rules = await (await fetch(new URL('api/rules', adminUrl))).json() as { rules: { name: string }[] };
  assert.deepEqual(rules.rules.map((r) => r.name), ['allowed-origin', 'later']);

  // Workers report finished flows to the primary (which serves /metrics) over IPC, so the count
  // can trail the client's response by a message: poll, bounded.
  const laterAllowed = /^portcullis_requests_total\{decision="allow",reason="rule-matched",rule="later"\} 2$/m;
  let metrics = '';
  for (let attempt = 0; attempt < 100; attempt += 1) {
    metrics = await (await fetch(new URL('metrics', adminUrl))).text();
    if (laterAllowed.test(metrics)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.match(metrics, /^portcullis_config_reloads_total\{result="ok"\} 1$/m);
  assert.match(metrics, /^portcullis_config_reloads_total\{result="refused"\} 1$/m);
  assert.match(metrics, laterAllowed);
  assert.equal(await cli.stop(), 0);
});

test('a config without admin: starts no admin listener', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = tempDir(t);
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, configFor(origin.port));
  const cli = startCli(t, ['-c', file]);
  await cli.waitFor(/export http_proxy=/);
  assert.doesNotMatch(cli.stderr(), /dashboard/);
  assert.equal(await cli.stop(), 0);
});

/** Whether this machine lets us make a network namespace (root, unshare and ip). */
const netnsProblem = (): string | false => {
  try {
    execFileSync('unshare', ['--net', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'pipe', timeout: 10_000 });
    return false;
  } catch (error) {
    return `cannot create a network namespace here (needs root, unshare and ip): ${(error as Error).message.split('\n')[0]}`;
  }
};

/** The test's own non-loopback address, on lo inside its private network namespace (TEST-NET-1). */
const NS_ADDRESS = '192.0.2.1';

test('off loopback the admin API needs the token: generated once into state_dir, printed only then; refused without it from a non-loopback address', { skip: netnsProblem() }, async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, 'listen: [{ address: 127.0.0.1:0 }]\nadmin: { address: 0.0.0.0:0 }\nstate_dir: ./state\nlog: { format: json, file: ./access.log }\nrules: []\n');

  /** `portcullis run` inside a fresh network namespace whose lo also holds NS_ADDRESS. */
  const runInNamespace = async (): Promise<{ pid: number; stderr: () => string; stop: () => Promise<number | string | null> }> => {
    const child = spawn('unshare', ['--net', '--', 'sh', '-c',
      `ip link set lo up && ip addr add ${NS_ADDRESS}/32 dev lo && exec "$0" "$@"`, process.execPath, BIN, 'run', '-c', file],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
    const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const deadline = Date.now() + 15_000;
    while (!/admin API on/.test(err)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the CLI did not start in the namespace: ${err}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return {
      pid: child.pid ?? 0, stderr: () => err,
      stop: async () => {
        child.kill('SIGTERM');
        return exited;
      },
    };
  };

  const first = await runInNamespace();
  const port = /admin API on http:\/\/127\.0\.0\.1:(\d+)\//.exec(first.stderr())?.[1];
  assert.ok(port, first.stderr());
  const tokenFile = path.join(dir, 'state', 'admin-token');
  const token = readFileSync(tokenFile, 'utf8').trim();
  assert.ok(token.length >= 32);
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
  assert.match(first.stderr(), new RegExp(`\\n    ${token}\\n`), 'printed on the run that created it');
  assert.match(first.stderr(), /#token=/);

  /** curl from inside the namespace, from `source`, to the admin listener there. */
  const ask = async (source: string, urlPath: string, headers: string[] = []): Promise<number> => {
    const result = await runCommand('nsenter', [`--net=/proc/${first.pid}/ns/net`, 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}',
      '--max-time', '10', '--noproxy', '*', '--interface', source, ...headers.flatMap((h) => ['-H', h]), `http://${source}:${port}${urlPath}`]);
    assert.equal(result.code, 0, result.stderr);
    return Number(result.stdout);
  };
  assert.equal(await ask(NS_ADDRESS, '/api/flows'), 401, 'no token from a non-loopback address');
  assert.equal(await ask(NS_ADDRESS, '/metrics'), 401);
  assert.equal(await ask(NS_ADDRESS, '/api/flows', ['Authorization: Bearer wrong-token-wrong-token']), 401);
  assert.equal(await ask(NS_ADDRESS, '/api/flows', [`Authorization: Bearer ${token}`]), 200);
  assert.equal(await ask(NS_ADDRESS, '/metrics', [`Authorization: Bearer ${token}`]), 200);
  assert.equal(await ask(NS_ADDRESS, '/healthz'), 200, 'health probes need no token');
  assert.equal(await ask(NS_ADDRESS, '/'), 200, 'the page loads, then asks for the token');
  assert.equal(await ask('127.0.0.1', '/api/flows'), 200, 'loopback needs no token');
  assert.equal(await first.stop(), 0);

  const second = await runInNamespace();
  assert.doesNotMatch(second.stderr(), new RegExp(token), 'the token is printed only when generated');
  assert.match(second.stderr(), /needs the token in .*admin-token/);
  assert.equal(readFileSync(tokenFile, 'utf8').trim(), token, 'the same token is used again');
  assert.equal(await second.stop(), 0);
  for (const log of [path.join(dir, 'access.log')]) {
    try {
      assert.doesNotMatch(readFileSync(log, 'utf8'), new RegExp(token));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
});

/** `script` gives the CLI a pseudo-terminal, as a person's terminal would. */
const scriptProblem = (): string | false => {
  try {
    execFileSync('script', ['-qfec', 'true', '/dev/null'], { stdio: 'pipe', timeout: 10_000 });
    return false;
  } catch {
    return 'script (util-linux) is missing: cannot give the CLI a terminal';
  }
};

test('on a terminal, run shows the coloured log and a live summary line (connections, req/s, denied)', { skip: scriptProblem() }, async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = tempDir(t);
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, configFor(origin.port).replace('log: { format: json, file: ./access.log }', 'log: { format: console }'));
  const command = [process.execPath, BIN, 'run', '-c', file].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', `stty cols 160 rows 40; exec ${command}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const waitFor = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const match = out.match(pattern);
      if (match) return match;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} in ${JSON.stringify(out)}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const [, address] = await waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  await waitFor(/».*0 connections · 0\.0 req\/s · 0 flows · 0 denied/);
  assert.equal((await curl(['-x', `http://${address}`, `http://allowed.test:${origin.port}/tty`])).status, 200);
  assert.equal((await curl(['-x', `http://${address}`, `http://denied.test:${origin.port}/tty`])).status, 403);
  await waitFor(/\u001b\[32mALLOW\u001b\[0m .*allowed\.test/);
  await waitFor(/\u001b\[31mDENY\u001b\[0m .*denied\.test/);
  await waitFor(/2 flows · \u001b\[31m1 denied/);
  // Each log line erases the summary first (\r + erase line), so the log never mixes with it.
  assert.match(out, /\r\u001b\[2K[^\r\n]*ALLOW/);
  child.stdin?.write('\u0003'); // Ctrl-C through the terminal
  const code = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (c) => resolve(c));
  });
  assert.equal(code, 0);
});
