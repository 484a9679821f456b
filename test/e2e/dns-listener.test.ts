import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import dnsPacket from 'dns-packet';
import { runCommand } from '../helpers/clients.js';
import { tunnelNames } from '../helpers/dns-tunnel.js';
import { tableLookup } from '../helpers/pipeline-fakes.js';
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js';

/**
 * The DNS listener with dig (BIND's dnsutils) as the client, over UDP and TCP on one port.
 * Addresses come from the proxy's resolver (a table standing in for the system lookup, which
 * records every name that would have left the machine); HTTPS records come from a recording
 * upstream name server on loopback, set as dns.upstream.
 */

const DIG = ['/usr/bin/dig', '/bin/dig', '/usr/local/bin/dig'].some((file) => existsSync(file));
const skip = DIG ? false : 'dig is missing (Debian: apt-get install dnsutils; scripts/install-test-deps.sh does it)';

const dir = mkdtempSync(path.join(tmpdir(), 'pcl-dns-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

/** An HTTPS record for every name: "1 . alpn=h2 ipv4hint=192.0.2.1 ech=AQID" (RDATA as RFC 9460 writes it). */
const HTTPS_RDATA = Buffer.from([0, 1, 0, 0, 1, 0, 3, 2, 0x68, 0x32, 0, 4, 0, 4, 192, 0, 2, 1, 0, 5, 0, 3, 1, 2, 3]);

interface Upstream {
  readonly address: string;
  readonly asked: string[];
}

/** A name server on 127.0.0.1 that answers every HTTPS question with HTTPS_RDATA and records what it was asked. */
const startUpstream = async (t: TestContext): Promise<Upstream> => {
  const socket = dgram.createSocket('udp4');
  const asked: string[] = [];
  socket.on('message', (message, from) => {
    const query = dnsPacket.decode(message);
    const question = query.questions?.[0];
    if (question === undefined) return;
    asked.push(`${question.type as string} ${question.name}`);
    socket.send(dnsPacket.encode({
      type: 'response', id: query.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: [question],
      answers: [{ type: question.type, name: question.name, ttl: 7200, class: 'IN', data: HTTPS_RDATA } as unknown as dnsPacket.Answer],
    }), from.port, from.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  t.after(() => socket.close());
  return { address: `127.0.0.1:${socket.address().port}`, asked };
};

const TABLE = { 'www.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'], 'intranet.example.org': ['93.184.216.36'] };

const start = async (t: TestContext, extra: Record<string, unknown> = {}): Promise<{ proxy: TestProxy; port: number; lookups: string[]; upstream: Upstream }> => {
  const upstream = await startUpstream(t);
  const lookup = tableLookup(TABLE);
  const proxy = await startTestProxy(t, {
    listen: [{ address: '127.0.0.1:0', mode: 'dns' }],
    rules: [{ name: 'wild', hosts: ['*.example.com'] }, { name: 'office', hosts: ['intranet.example.org'], clients: ['10.0.0.0/8'] }],
    dns: { upstream: [upstream.address], answer_ttl: '45s', ...((extra.dns as object | undefined) ?? {}) },
    ...Object.fromEntries(Object.entries(extra).filter(([key]) => key !== 'dns')),
  }, { lookup });
  return { proxy, port: proxy.port, lookups: lookup.calls, upstream };
};

const dig = (port: number, args: readonly string[]): ReturnType<typeof runCommand> =>
  runCommand('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], { timeoutMs: 15_000 });

const statusOf = (output: string): string | undefined => /status: ([A-Z]+)/.exec(output)?.[1];

test('dig gets A and AAAA for an allowed name, over UDP and TCP, from the proxy\'s resolver with answer_ttl', { skip }, async (t) => {
  const { port, proxy, lookups } = await start(t);
  const a = await dig(port, ['www.example.com', 'A', '+noall', '+answer']);
  assert.match(a.stdout, /^www\.example\.com\.\s+45\s+IN\s+A\s+93\.184\.216\.34$/m, a.stdout + a.stderr);
  const aaaa = await dig(port, ['+tcp', 'www.example.com', 'AAAA', '+noall', '+answer']);
  assert.match(aaaa.stdout, /IN\s+AAAA\s+2606:2800:220:1:248:1893:25c8:1946/, aaaa.stdout + aaaa.stderr);
  assert.deepEqual(lookups, ['www.example.com', 'www.example.com']);
  const flows = await proxy.waitForFlows(2);
  assert.deepEqual(flows.map((f) => [f.kind, f.method, f.url, f.verdict, f.rule, f.dns?.transport, f.dns?.rcode]), [
    ['dns', 'A', 'www.example.com', 'allow', 'wild', 'udp', 'NOERROR'],
    ['dns', 'AAAA', 'www.example.com', 'allow', 'wild', 'tcp', 'NOERROR'],
  ]);
});

test('names no rule could allow get NXDOMAIN (or REFUSED with refuse_with) and never reach the resolver', { skip }, async (t) => {
  const { port, proxy, lookups } = await start(t);
  for (const name of ['evil.test', 'example.com', 'intranet.example.org']) {
    const result = await dig(port, [name, 'A']);
    assert.equal(statusOf(result.stdout), 'NXDOMAIN', `${name}: ${result.stdout}`);
  }
  assert.deepEqual(lookups, []);
  const flows = await proxy.waitForFlows(3);
  assert.deepEqual(flows.map((f) => [f.host, f.reason]), [
    ['evil.test', 'dns-name-not-allowed'], ['example.com', 'dns-name-not-allowed'], ['intranet.example.org', 'dns-name-not-allowed'],
  ]);
  const refusing = await start(t, { dns: { refuse_with: 'refused' } });
  assert.equal(statusOf((await dig(refusing.port, ['evil.test', 'A'])).stdout), 'REFUSED');
});

test('TXT and ANY are refused; HTTPS comes from dns.upstream without ech and address hints, TTL capped', { skip }, async (t) => {
  const { port, proxy, upstream } = await start(t);
  assert.equal(statusOf((await dig(port, ['www.example.com', 'TXT'])).stdout), 'REFUSED');
  assert.equal(statusOf((await dig(port, ['www.example.com', 'ANY'])).stdout), 'REFUSED');
  const https = await dig(port, ['www.example.com', 'HTTPS', '+noall', '+answer']);
  assert.match(https.stdout, /^www\.example\.com\.\s+45\s+IN\s+HTTPS\s+1 \. alpn="h2"$/m, https.stdout + https.stderr);
  assert.doesNotMatch(https.stdout, /ech|ipv4hint/);
  assert.deepEqual(upstream.asked, ['UNKNOWN_65 www.example.com']);
  const flows = await proxy.waitForFlows(3);
  assert.deepEqual(flows.map((f) => f.reason), ['dns-type-not-allowed', 'dns-type-not-allowed', 'rule-matched']);
  assert.deepEqual(flows[2]?.dns?.answers, ['1 . alpn=h2']);
  const refusing = await start(t, { dns: { https_records: 'refuse' } });
  assert.equal(statusOf((await dig(refusing.port, ['www.example.com', 'HTTPS'])).stdout), 'REFUSED');
  assert.deepEqual(refusing.upstream.asked, []);
});

test('base32 chunks in labels (a DNS tunnel\'s pattern) are flagged and throttled; what left is far from the 1 KB sent', { skip }, async (t) => {
  const { port, proxy, lookups } = await start(t, { dns: { exfiltration: { rate: '20/s' } } });
  const names = tunnelNames(randomBytes(1024), 20, 1, 't.example.com');
  const batch = path.join(dir, 'exfil.txt');
  writeFileSync(batch, names.map((name) => `${name} A`).join('\n'));
  const result = await dig(port, ['-f', batch, '+noall', '+comments']);
  const statuses = [...result.stdout.matchAll(/status: ([A-Z]+)/g)].map((m) => m[1]);
  assert.equal(statuses.length, names.length, result.stdout.slice(0, 500) + result.stderr);
  const flows = await proxy.waitForFlows(names.length);
  const flagged = flows.filter((f) => f.reason === 'dns-exfiltration-suspected');
  assert.ok(flagged.length > 0, 'nothing was flagged');
  assert.ok(flagged.some((f) => /dns\.exfiltration\.rate/.test(f.detail ?? '')), 'the rate limit never throttled');
  const leftCharacters = lookups.reduce((sum, name) => sum + name.split('.')[0]!.length, 0);
  assert.ok(leftCharacters * 5 / 8 < 1024, `${leftCharacters} base32 characters reached the resolver`);
  t.diagnostic(`${lookups.length} of ${names.length} queries reached the resolver (${Math.round(leftCharacters * 5 / 8)} bytes); ${flagged.length} flagged`);
});

test('malformed messages get FORMERR or nothing, never a crash; bad TCP framing closes only that connection', { skip }, async (t) => {
  const { port, proxy } = await start(t);
  const udp = dgram.createSocket('udp4');
  t.after(() => udp.close());
  const replies: Buffer[] = [];
  udp.on('message', (message) => replies.push(message));
  const garbage = [Buffer.from([1, 2, 3]), Buffer.alloc(12, 0xff), Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]), Buffer.alloc(600, 0x3f)];
  for (const bytes of garbage) udp.send(bytes, port, '127.0.0.1');
  const deadline = Date.now() + 3000;
  while (replies.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const rcodes = replies.map((reply) => reply.readUInt16BE(2) & 0xf);
  assert.ok(rcodes.length >= 1 && rcodes.every((rcode) => rcode === 1), `FORMERR (1) expected, got ${JSON.stringify(rcodes)}`);
  // A TCP message of length zero is not DNS: that connection is closed.
  const zero = net.connect(port, '127.0.0.1');
  zero.write(Buffer.from([0, 0]));
  await once(zero, 'close');
  // The listener still answers.
  const after = await dig(port, ['+tcp', 'www.example.com', 'A', '+short']);
  assert.equal(after.stdout.trim(), '93.184.216.34');
  const flows = await proxy.waitForFlows(4);
  assert.ok(flows.filter((f) => f.reason === 'malformed-request').length >= 3, JSON.stringify(flows.map((f) => f.reason)));
});

test('TCP connections beyond dns.max_tcp_connections are closed at once', { skip }, async (t) => {
  const { port } = await start(t, { dns: { max_tcp_connections: 2 } });
  const open = await Promise.all([0, 1].map(async () => {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    t.after(() => socket.destroy());
    return socket;
  }));
  const third = net.connect(port, '127.0.0.1');
  await once(third, 'close');
  assert.ok(open.every((socket) => !socket.destroyed));
});
