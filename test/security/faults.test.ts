import net from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpOrigin } from '../helpers/origin.js';
import { curl } from '../helpers/clients.js';
import { startCli } from '../helpers/cli-process.js';

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Opens a raw connection, writes `payload`, and destroys it after `afterMs` (or on the first byte back). */
const vanish = (port: number, payload: string | Buffer, afterMs: number): Promise<void> =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(payload));
    const done = (): void => {
      socket.destroy();
      resolve();
    };
    socket.on('data', () => setTimeout(done, 5));
    socket.on('error', done);
    setTimeout(done, afterMs);
  });

test('a bounded storm of faults leaves no leaked descriptors or memory, and every flow is logged', async (t) => {
  const origin = await startHttpOrigin(t, (req, res) => {
    if (req.url?.startsWith('/reset')) {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write(Buffer.alloc(10_000, 1));
      setTimeout(() => res.socket?.destroy(), 10);
      return;
    }
    if (req.url?.startsWith('/big')) {
      res.writeHead(200, { 'content-length': String(4 * 1024 * 1024) });
      res.end(Buffer.alloc(4 * 1024 * 1024, 2));
      return;
    }
    res.end('ok');
  });
  const closedPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-faults-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logFile = path.join(dir, 'access.log');
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, `
listen: [{ address: 127.0.0.1:0 }]
state_dir: ${path.join(dir, 'state')}
resolve: { ok.test: 127.0.0.1, down.test: 127.0.0.1 }
destinations: { allow_ranges: [127.0.0.0/8] }
missing_sni: allow
timeouts: { upstream_idle: 300ms }   # pooled upstream connections close quickly, so what remains is a leak
log: { format: json, file: ${logFile} }
rules:
  - { name: ok, hosts: [ok.test], ports: [${origin.port}] }
  - { name: down, hosts: [down.test], ports: [${closedPort}] }
`);
  const cli = startCli(t, ['-c', file]);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:(\d+))/);
  const port = Number(address?.split(':')[1]);
  const proxy = `http://${address}`;
  for (let i = 0; i < 20; i += 1) await curl(['-x', proxy, `http://ok.test:${origin.port}/warm`]);
  await new Promise((r) => setTimeout(r, 300));
  const fdsBefore = openFds(cli.pid);
  const rssBefore = cli.rssKiB();

  const rounds = 3;
  let sent = 0;
  for (let round = 0; round < rounds; round += 1) {
    const storm: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i += 1) {
      storm.push(curl(['-x', proxy, `http://ok.test:${origin.port}/ok`]));
      storm.push(curl(['-x', proxy, `http://ok.test:${origin.port}/reset`]));
      storm.push(curl(['-x', proxy, `http://down.test:${closedPort}/`]));
      storm.push(curl(['-x', proxy, `http://denied.test:${origin.port}/`]));
      // Client vanishes mid-download and mid-upload.
      storm.push(vanish(port, `GET http://ok.test:${origin.port}/big HTTP/1.1\r\nHost: ok.test:${origin.port}\r\n\r\n`, 200));
      storm.push(vanish(port, `POST http://ok.test:${origin.port}/up HTTP/1.1\r\nHost: ok.test:${origin.port}\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`, 50));
      // A tunnel opened and dropped, and garbage.
      storm.push(vanish(port, `CONNECT ok.test:${origin.port} HTTP/1.1\r\n\r\n`, 50));
      storm.push(vanish(port, 'not http at all\r\n\r\n', 50));
      sent += 8;
    }
    await Promise.all(storm);
  }
  const after = await curl(['-x', proxy, `http://ok.test:${origin.port}/after-storm`]);
  assert.equal(after.status, 200, 'still serving after the storm');

  // Let closing sockets finish (bounded; generous for a loaded machine), then compare.
  const deadline = Date.now() + 15_000;
  while (openFds(cli.pid) > fdsBefore + 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const fdsAfter = openFds(cli.pid);
  const rssAfter = cli.rssKiB();
  if (process.env.PCL_DEBUG_FDS) {
    const { execSync } = await import('node:child_process');
    t.diagnostic(execSync(`ss -uanp | grep pid=${cli.pid}, | head -3; ss -xanp | grep pid=${cli.pid}, | head -5; cat /proc/${cli.pid}/net/sockstat`).toString());
    t.diagnostic(execSync(`ss -tanp | grep pid=${cli.pid}, || true; ls -l /proc/${cli.pid}/fd | awk '{print $NF}' | sed 's/[0-9]*//g' | sort | uniq -c`).toString());
  }
  t.diagnostic(`fds ${fdsBefore} -> ${fdsAfter}; RSS ${rssBefore} KiB -> ${rssAfter} KiB after ${sent} faulty exchanges`);
  assert.ok(fdsAfter <= fdsBefore + 4, `descriptors leaked: ${fdsBefore} -> ${fdsAfter}`);
  assert.ok(rssAfter - rssBefore < 64 * 1024, `memory grew by ${rssAfter - rssBefore} KiB`);

  assert.equal(await cli.stop(), 0);
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string; url: string });
  // 20 warm-up + storm (every curl and every vanishing request that got far enough) + 1 after.
  const curlFlows = lines.filter((l) => /\/(ok|reset|warm|after-storm)$|down\.test|denied\.test/.test(l.url));
  assert.equal(curlFlows.length, 20 + rounds * 10 * 4 + 1);
  assert.ok(lines.some((l) => l.url.endsWith('/big')), 'aborted downloads are logged');
});

test('a log file on a full disk is reported and the proxy keeps serving', async (t) => {
  const origin = await startHttpOrigin(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-full-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, `
listen: [{ address: 127.0.0.1:0 }]
state_dir: ${path.join(dir, 'state')}
resolve: { ok.test: 127.0.0.1 }
destinations: { allow_ranges: [127.0.0.0/8] }
log: { format: json, file: /dev/full }
rules: [{ name: ok, hosts: [ok.test], ports: [${origin.port}] }]
`);
  const cli = startCli(t, ['-c', file]);
  const [, address] = await cli.waitFor(/listening on http:\/\/(127\.0\.0\.1:\d+)/);
  for (let i = 0; i < 5; i += 1) {
    assert.equal((await curl(['-x', `http://${address}`, `http://ok.test:${origin.port}/${i}`])).status, 200);
  }
  await cli.waitFor(/ENOSPC/);
  assert.equal(origin.seen.length, 5);
  assert.equal(await cli.stop(), 0);
});
