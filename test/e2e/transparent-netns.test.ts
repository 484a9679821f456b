/**
 * Transparent mode with real hosts: three network namespaces joined by veth pairs.
 *
 *   client 10.200.A.2 / fd00:200:A::2  --  gateway 10.200.A.1 | 10.200.B.1  --  origin 10.200.B.2, .3 / fd00:200:B::2
 *
 * The gateway runs `portcullis run` (the built CLI) with transparent listeners and the
 * REDIRECT rules that `portcullis transparent rules` prints, run line by line: the printed
 * rules are the ones under test. The client runs curl and openssl with no proxy settings; the
 * origin records every TCP connection, TLS handshake, request and UDP datagram it gets.
 * Names resolve in the client through curl --resolve and in the proxy through `resolve:`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandLines } from '../../src/net/firewall-rules.js';
import { loadOriginalDstAddon } from '../../src/net/original-destination.js';
import { runCommand, type CommandResult } from '../helpers/clients.js';
import { must, run, startIn, which, type Background } from '../helpers/netns.js';
import { makeOriginCertificates } from '../helpers/test-certs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'portcullis.js');

/** Why this machine cannot run the test, or undefined. */
const missingPrerequisite = (): string | undefined => {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and iptables); run the suite as root or in CI';
  for (const tool of ['ip', 'iptables', 'ip6tables', 'curl', 'openssl']) {
    if (!which(tool)) return `${tool} is missing (Debian: apt-get install iproute2 iptables curl openssl; scripts/install-test-deps.sh does it)`;
  }
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) return 'the CLI is not built (npm run build)';
  return undefined;
};

const SKIP = missingPrerequisite();
const ORIGINAL_DST = loadOriginalDstAddon();

/** The origin host: HTTP on 80, HTTPS on 443, UDP on 443 and 4443; one JSON line per event on stdout. */
const ORIGIN_SCRIPT = `
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
const log = (event) => process.stdout.write(JSON.stringify(event) + '\\n');
const answer = (scheme) => (req, res) => {
  log({ event: 'request', scheme, method: req.method, url: req.url, host: req.headers.host ?? null, local: req.socket.localAddress });
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('origin ' + scheme + ' ' + req.method + ' ' + req.url + '\\n');
};
const plain = http.createServer(answer('http'));
plain.on('connection', (s) => log({ event: 'tcp', port: 80, local: s.localAddress }));
const secure = https.createServer({ cert: fs.readFileSync(process.env.CERT_FILE), key: fs.readFileSync(process.env.KEY_FILE) }, answer('https'));
secure.on('connection', (s) => log({ event: 'tcp', port: 443, local: s.localAddress }));
secure.on('secureConnection', (s) => log({ event: 'tls', sni: s.servername || null, local: s.localAddress }));
let pending = 4;
const ready = () => { if (--pending === 0) log({ event: 'listening' }); };
plain.listen(80, '::', ready);
secure.listen(443, '::', ready);
for (const port of [443, 4443]) {
  const udp = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  udp.on('message', (msg) => log({ event: 'udp', port, text: msg.toString() }));
  udp.bind(port, '::', ready);
}
setTimeout(() => process.exit(0), 180000).unref();
`;

interface OriginEvent {
  readonly event: 'listening' | 'tcp' | 'tls' | 'request' | 'udp';
  readonly port?: number;
  readonly sni?: string | null;
  readonly url?: string;
  readonly host?: string | null;
  readonly scheme?: string;
  readonly text?: string;
}

const events = (origin: Background): OriginEvent[] =>
  origin.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as OriginEvent);

interface LogLine {
  readonly kind: string;
  readonly client: string;
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly sni?: string;
  readonly original_destination?: string;
  readonly verdict: string;
  readonly reason: string;
  readonly rule?: string;
  readonly detail?: string;
  readonly tunnel_mode?: string;
  readonly upstream?: string;
  readonly status: number;
}

const readLog = (file: string): LogLine[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine) : [];

const waitForLog = async (file: string, predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = readLog(file).find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no access-log line matched within ${timeoutMs} ms:\n${readFileSync(file, 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

test('transparent mode between network namespaces: clients without proxy settings are filtered by Host and SNI', {
  skip: SKIP === undefined ? false : `transparent netns test skipped: ${SKIP}`, timeout: 180_000,
}, async (t) => {
  const id = randomBytes(3).toString('hex');
  const a = 16 + 2 * (randomBytes(1)[0]! % 100); // client link 10.200.a.0/24, origin link 10.200.(a+1).0/24
  const b = a + 1;
  const ns = { client: `pcl-${id}-cli`, gateway: `pcl-${id}-gw`, origin: `pcl-${id}-org` };
  const ifc = { clientSide: `pc${id}c`, gatewayToClient: `pc${id}ga`, gatewayToOrigin: `pc${id}gb`, originSide: `pc${id}o` };
  const ip = {
    client: `10.200.${a}.2`, gatewayA: `10.200.${a}.1`, gatewayB: `10.200.${b}.1`, origin: `10.200.${b}.2`, originAlt: `10.200.${b}.3`,
    client6: `fd00:200:${a}::2`, gatewayA6: `fd00:200:${a}::1`, gatewayB6: `fd00:200:${b}::1`, origin6: `fd00:200:${b}::2`,
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-netns-'));
  chmodSync(dir, 0o755); // the same-host case runs curl as nobody, which reads the CA from here
  const created: string[] = [];
  t.after(async () => {
    for (const name of created.reverse()) await run('ip', ['netns', 'del', name], 10_000);
    rmSync(dir, { recursive: true, force: true });
  });

  // ---- hosts and links ----
  for (const name of [ns.client, ns.gateway, ns.origin]) {
    await must('ip', ['netns', 'add', name]);
    created.push(name);
    await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }
  await must('ip', ['link', 'add', ifc.clientSide, 'netns', ns.client, 'type', 'veth', 'peer', 'name', ifc.gatewayToClient, 'netns', ns.gateway]);
  await must('ip', ['link', 'add', ifc.originSide, 'netns', ns.origin, 'type', 'veth', 'peer', 'name', ifc.gatewayToOrigin, 'netns', ns.gateway]);
  const address = async (name: string, iface: string, addresses: string[]): Promise<void> => {
    for (const cidr of addresses) await must('ip', ['-n', name, 'addr', 'add', cidr, 'dev', iface, ...(cidr.includes(':') ? ['nodad'] : [])]);
    await must('ip', ['-n', name, 'link', 'set', iface, 'up']);
  };
  await address(ns.client, ifc.clientSide, [`${ip.client}/24`, `${ip.client6}/64`]);
  await address(ns.gateway, ifc.gatewayToClient, [`${ip.gatewayA}/24`, `${ip.gatewayA6}/64`]);
  await address(ns.gateway, ifc.gatewayToOrigin, [`${ip.gatewayB}/24`, `${ip.gatewayB6}/64`]);
  await address(ns.origin, ifc.originSide, [`${ip.origin}/24`, `${ip.originAlt}/24`, `${ip.origin6}/64`]);
  await must('ip', ['-n', ns.client, 'route', 'add', 'default', 'via', ip.gatewayA]);
  await must('ip', ['-n', ns.client, '-6', 'route', 'add', 'default', 'via', ip.gatewayA6]);
  // Forwarding on, so the QUIC rule is what stops UDP 443 (and other UDP visibly passes).
  await must('ip', ['netns', 'exec', ns.gateway, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  await must('ip', ['-n', ns.origin, 'route', 'add', `10.200.${a}.0/24`, 'via', ip.gatewayB]);

  // ---- the origin host ----
  const certs = makeOriginCertificates(['allowed.test', 'denied.test', 'inspected.test', 'other.test']);
  writeFileSync(path.join(dir, 'origin.mjs'), ORIGIN_SCRIPT);
  writeFileSync(path.join(dir, 'origin-cert.pem'), certs.cert);
  writeFileSync(path.join(dir, 'origin-key.pem'), certs.key);
  writeFileSync(path.join(dir, 'origin-ca.pem'), certs.caCert);
  chmodSync(path.join(dir, 'origin-ca.pem'), 0o644);
  const origin = startIn(t, ns.origin, [process.execPath, path.join(dir, 'origin.mjs')], {
    CERT_FILE: path.join(dir, 'origin-cert.pem'), KEY_FILE: path.join(dir, 'origin-key.pem'),
  }, ROOT);
  await origin.waitFor(/"listening"/, 'stdout');

  // ---- the gateway: config, printed rules, Portcullis ----
  const configFile = path.join(dir, 'portcullis.yaml');
  const accessLog = path.join(dir, 'access.log');
  const writeConfig = (transparent: string, extraRules = ''): void => writeFileSync(configFile, `
listen:
  - { address: "[::]:3129", mode: transparent-http }
  - { address: "[::]:3130", mode: transparent-tls }
state_dir: ${path.join(dir, 'state')}
resolve:
  allowed.test: [${ip.origin}, ${ip.origin6}]
  denied.test: ${ip.origin}
  inspected.test: ${ip.origin}
destinations:
  allow_ranges: [10.200.0.0/16, "fd00:200::/32"]
upstream:
  tls: { extra_ca: [${path.join(dir, 'origin-ca.pem')}] }
log: { format: json, file: ${accessLog} }
transparent: ${transparent}
rules:
  - name: allowed-web
    hosts: [allowed.test]
    ports: [80, 443]
  - name: inspected-api
    hosts: [inspected.test]
    paths: [/ok]
${extraRules}`);
  writeConfig('{ sni_missing: deny }');

  const printed = await run(process.execPath, [BIN, 'transparent', 'rules', '-c', configFile,
    '--target', 'gateway', '--format', 'iptables', '--interface', ifc.gatewayToClient]);
  assert.equal(printed.code, 0, printed.stderr);
  const gatewayCommands = commandLines(printed.stdout);
  assert.ok(gatewayCommands.some((line) => line.startsWith('iptables -t nat -A PREROUTING') && line.includes('--dport 443') && line.includes('--to-ports 3130')), printed.stdout);
  assert.ok(gatewayCommands.some((line) => line.startsWith('ip6tables ')), printed.stdout);
  assert.ok(gatewayCommands.some((line) => /udp --dport 443 -j REJECT/.test(line)), printed.stdout);
  for (const line of gatewayCommands) await must('ip', ['netns', 'exec', ns.gateway, 'sh', '-c', line]);

  const proxy = startIn(t, ns.gateway, [process.execPath, BIN, 'run', '-c', configFile], {}, ROOT);
  await proxy.waitFor(/listening on/, 'stderr', 15_000);
  let reloads = 0;
  const reload = async (transparent: string, extraRules = ''): Promise<void> => {
    writeConfig(transparent, extraRules);
    reloads += 1;
    proxy.child.kill('SIGHUP');
    await proxy.waitFor(/config reloaded/, 'stderr', 10_000, reloads);
  };

  const curlFromClient = (args: readonly string[]): Promise<CommandResult> =>
    run('ip', ['netns', 'exec', ns.client, 'curl', '-sS', '--max-time', '10', '--noproxy', '*', ...args]);
  const opensslFromClient = (connect: string, extra: readonly string[]): Promise<CommandResult> =>
    runCommand('ip', ['netns', 'exec', ns.client, 'openssl', 's_client', '-connect', connect, '-CAfile', path.join(dir, 'origin-ca.pem'), ...extra],
      { timeoutMs: 15_000, input: 'Q\n', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp' } });
  const seenSince = (count: number): OriginEvent[] => events(origin).slice(count);
  const resolveTo = (name: string, port: number, to = ip.origin): string[] => ['--resolve', `${name}:${port}:${to}`];

  await t.test('plain HTTP is allowed by its Host header and reaches the origin', async () => {
    const result = await curlFromClient([...resolveTo('allowed.test', 80), 'http://allowed.test/hello?x=1']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'origin http GET /hello?x=1\n');
    const request = events(origin).find((e) => e.event === 'request' && e.url === '/hello?x=1');
    assert.equal(request?.host, 'allowed.test');
    const line = await waitForLog(accessLog, (l) => l.url === 'http://allowed.test/hello?x=1');
    assert.equal(line.verdict, 'allow');
    assert.equal(line.rule, 'allowed-web');
    if (ORIGINAL_DST.ok) assert.equal(line.original_destination, `${ip.origin}:80`);
  });

  await t.test('plain HTTP to a denied Host gets 403 from Portcullis and the origin sees nothing', async () => {
    const before = events(origin).length;
    const result = await curlFromClient(['-i', ...resolveTo('denied.test', 80), 'http://denied.test/secret']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^HTTP\/1\.1 403/);
    assert.match(result.stdout, /no-rule-matched/);
    assert.deepEqual(seenSince(before), []);
    const line = await waitForLog(accessLog, (l) => l.url === 'http://denied.test/secret');
    assert.equal(line.verdict, 'deny');
    assert.equal(line.reason, 'no-rule-matched');
    if (ORIGINAL_DST.ok) assert.equal(line.original_destination, `${ip.origin}:80`);
  });

  await t.test('HTTPS to an allowed SNI is spliced, never decrypted: the origin\'s own certificate verifies', async () => {
    const result = await curlFromClient(['--cacert', path.join(dir, 'origin-ca.pem'), ...resolveTo('allowed.test', 443), 'https://allowed.test/tls']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'origin https GET /tls\n');
    assert.ok(events(origin).some((e) => e.event === 'tls' && e.sni === 'allowed.test'));
    const line = await waitForLog(accessLog, (l) => l.kind === 'tunnel' && l.sni === 'allowed.test' && l.verdict === 'allow');
    assert.equal(line.rule, 'allowed-web');
    assert.equal(line.tunnel_mode, 'splice');
    assert.equal(line.upstream, `${ip.origin}:443`);
    if (ORIGINAL_DST.ok) assert.equal(line.original_destination, `${ip.origin}:443`);
    else t.diagnostic(`original destination not checked: ${ORIGINAL_DST.problem}`);
  });

  await t.test('HTTPS to a denied SNI fails with a TLS alert and the origin sees no connection at all', async () => {
    const before = events(origin).length;
    const result = await curlFromClient(['--cacert', path.join(dir, 'origin-ca.pem'), ...resolveTo('denied.test', 443), 'https://denied.test/']);
    assert.equal(result.code, 35, `curl should fail in the TLS handshake: ${result.stderr}`);
    assert.match(result.stderr, /alert|access denied/i);
    assert.deepEqual(seenSince(before), []);
    const line = await waitForLog(accessLog, (l) => l.kind === 'tunnel' && l.sni === 'denied.test');
    assert.equal(line.verdict, 'deny');
    assert.equal(line.reason, 'no-rule-matched');
    if (ORIGINAL_DST.ok) assert.equal(line.original_destination, `${ip.origin}:443`);
  });

  await t.test('openssl: a ClientHello with an allowed SNI completes the origin\'s handshake; one without SNI is refused', async () => {
    const allowed = await opensslFromClient(`${ip.origin}:443`, ['-servername', 'allowed.test']);
    assert.match(allowed.stdout, /Verify return code: 0 \(ok\)/, allowed.stdout + allowed.stderr);
    const before = events(origin).length;
    const bare = await opensslFromClient(`${ip.origin}:443`, ['-noservername']);
    assert.match(bare.stderr, /alert access denied/i, bare.stderr);
    assert.deepEqual(seenSince(before), []);
    const line = await waitForLog(accessLog, (l) => l.kind === 'tunnel' && l.reason === 'sni-missing');
    assert.equal(line.verdict, 'deny');
    if (ORIGINAL_DST.ok) assert.equal(line.original_destination, `${ip.origin}:443`);
  });

  await t.test('sni_missing: original-destination routes a ClientHello without SNI to the dialed IP when an IP rule allows it', { skip: !ORIGINAL_DST.ok && 'needs the SO_ORIGINAL_DST addon' }, async () => {
    await reload('{ sni_missing: original-destination }', `  - name: origin-by-ip\n    hosts: [${ip.origin}]\n`);
    const before = events(origin).length;
    const bare = await opensslFromClient(`${ip.origin}:443`, ['-noservername']);
    assert.match(bare.stdout, /Verify return code: 0 \(ok\)/, bare.stdout + bare.stderr);
    assert.ok(seenSince(before).some((e) => e.event === 'tls' && e.sni === null));
    const line = await waitForLog(accessLog, (l) => l.kind === 'tunnel' && l.rule === 'origin-by-ip');
    assert.equal(line.verdict, 'allow');
    assert.equal(line.host, ip.origin);
    assert.equal(line.original_destination, `${ip.origin}:443`);
    // An address no IP rule lists stays denied.
    const afterAllowed = events(origin).length;
    const other = await opensslFromClient(`${ip.originAlt}:443`, ['-noservername']);
    assert.match(other.stderr, /alert access denied/i);
    assert.deepEqual(seenSince(afterAllowed), []);
    const denied = await waitForLog(accessLog, (l) => l.kind === 'tunnel' && l.original_destination === `${ip.originAlt}:443`);
    assert.equal(denied.verdict, 'deny');
    assert.equal(denied.reason, 'no-rule-matched');
  });

  await t.test('verify_original_destination denies an allowed name the client did not actually dial (host-mismatch)', { skip: !ORIGINAL_DST.ok && 'needs the SO_ORIGINAL_DST addon' }, async () => {
    await reload('{ verify_original_destination: true }');
    const before = events(origin).length;
    const forged = await curlFromClient(['--cacert', path.join(dir, 'origin-ca.pem'), ...resolveTo('allowed.test', 443, ip.originAlt), 'https://allowed.test/forged']);
    assert.equal(forged.code, 35, forged.stderr);
    assert.deepEqual(seenSince(before), []);
    const line = await waitForLog(accessLog, (l) => l.reason === 'host-mismatch' && l.kind === 'tunnel');
    assert.equal(line.verdict, 'deny');
    assert.match(line.detail ?? '', new RegExp(`not to the original destination ${ip.originAlt.replace(/\./g, '\\.')}`));
    const plain = await curlFromClient(['-i', ...resolveTo('allowed.test', 80, ip.originAlt), 'http://allowed.test/forged-http']);
    assert.match(plain.stdout, /^HTTP\/1\.1 403/);
    assert.match(plain.stdout, /host-mismatch/);
    const honest = await curlFromClient(['--cacert', path.join(dir, 'origin-ca.pem'), ...resolveTo('allowed.test', 443), 'https://allowed.test/honest']);
    assert.equal(honest.code, 0, honest.stderr);
    await reload('{ sni_missing: deny }');
  });

  await t.test('a host whose rule has paths is intercepted: requests inside TLS are judged one by one', async () => {
    const caFile = path.join(dir, 'state', 'ca.pem');
    const ok = await curlFromClient(['--cacert', caFile, ...resolveTo('inspected.test', 443), 'https://inspected.test/ok/item']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'origin https GET /ok/item\n');
    const before = events(origin).length;
    const no = await curlFromClient(['-i', '--cacert', caFile, ...resolveTo('inspected.test', 443), 'https://inspected.test/nope']);
    assert.match(no.stdout, /^HTTP\/[12](\.1)? 403/, no.stderr);
    assert.match(no.stdout, /path-not-allowed/);
    assert.ok(!seenSince(before).some((e) => e.event === 'request'));
    const tunnel = await waitForLog(accessLog, (l) => l.kind === 'tunnel' && l.sni === 'inspected.test' && l.tunnel_mode === 'intercept');
    assert.equal(tunnel.rule, 'inspected-api');
  });

  await t.test('IPv6: the same listener and the printed ip6tables rules filter by SNI', async () => {
    const before = events(origin).length;
    const result = await curlFromClient(['-6', '--cacert', path.join(dir, 'origin-ca.pem'), '--resolve', `allowed.test:443:[${ip.origin6}]`, 'https://allowed.test/v6']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'origin https GET /v6\n');
    const line = await waitForLog(accessLog, (l) => l.kind === 'tunnel' && l.sni === 'allowed.test' && l.client.includes(':'));
    assert.equal(line.verdict, 'allow');
    if (ORIGINAL_DST.ok) assert.equal(line.original_destination, `[${ip.origin6}]:443`);
    const denied = await curlFromClient(['-6', '--cacert', path.join(dir, 'origin-ca.pem'), '--resolve', `denied.test:443:[${ip.origin6}]`, 'https://denied.test/v6']);
    assert.equal(denied.code, 35, denied.stderr);
    assert.ok(!seenSince(before).some((e) => e.event === 'tls' && e.sni === 'denied.test'));
  });

  await t.test('QUIC is blocked at the firewall: UDP 443 never reaches the origin, other UDP does', async () => {
    const send = (port: number, text: string): Promise<CommandResult> => run('ip', ['netns', 'exec', ns.client, process.execPath, '-e',
      `const s=require('dgram').createSocket('udp4');s.on('error',()=>{});s.send(${JSON.stringify(text)},${port},${JSON.stringify(ip.origin)},()=>setTimeout(()=>s.close(),100));`]);
    await send(443, 'quic-443');
    await send(4443, 'udp-4443');
    await origin.waitFor(/udp-4443/, 'stdout', 5000);
    assert.ok(!events(origin).some((e) => e.event === 'udp' && e.port === 443));
  });

  await t.test('same host: the printed nftables OUTPUT rules redirect other users, and the owner match keeps Portcullis out of its own loop', {
    skip: (!which('nft') && 'nft is missing') || (!which('setpriv') && 'setpriv is missing'),
  }, async () => {
    const sameHost = await run(process.execPath, [BIN, 'transparent', 'rules', '-c', configFile, '--target', 'same-host', '--format', 'nftables', '--user', 'root']);
    assert.equal(sameHost.code, 0, sameHost.stderr);
    const commands = commandLines(sameHost.stdout);
    assert.ok(commands.some((line) => line.includes('meta skuid != "root" redirect to :3130')), sameHost.stdout);
    for (const line of commands) await must('ip', ['netns', 'exec', ns.gateway, 'sh', '-c', line]);
    const asNobody = (args: readonly string[]): Promise<CommandResult> => run('ip', ['netns', 'exec', ns.gateway,
      'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'curl', '-sS', '--max-time', '10', '--noproxy', '*', ...args]);
    const allowed = await asNobody(['--cacert', path.join(dir, 'origin-ca.pem'), ...resolveTo('allowed.test', 443), 'https://allowed.test/same-host']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(allowed.stdout, 'origin https GET /same-host\n');
    // Redirected in OUTPUT, the connection comes from this host's own address toward the origin.
    const line = await waitForLog(accessLog, (l) => l.kind === 'tunnel' && l.sni === 'allowed.test' && l.client === ip.gatewayB);
    assert.equal(line.rule, 'allowed-web');
    const before = events(origin).length;
    const denied = await asNobody(['--cacert', path.join(dir, 'origin-ca.pem'), ...resolveTo('denied.test', 443), 'https://denied.test/same-host']);
    assert.equal(denied.code, 35, denied.stderr);
    assert.deepEqual(seenSince(before), []);
  });

  await t.test('the access log has SNI, original destination, decision and rule on every transparent TLS line', () => {
    const tunnels = readLog(accessLog).filter((l) => l.kind === 'tunnel');
    assert.ok(tunnels.length >= 6, JSON.stringify(tunnels));
    for (const line of tunnels) {
      assert.ok(line.verdict === 'allow' || line.verdict === 'deny');
      assert.ok(line.reason.length > 0);
      if (ORIGINAL_DST.ok) assert.match(line.original_destination ?? '', /:\d+$/, JSON.stringify(line));
    }
    assert.ok(tunnels.some((l) => l.sni === 'allowed.test' && l.rule === 'allowed-web' && l.verdict === 'allow'));
    assert.ok(tunnels.some((l) => l.sni === 'denied.test' && l.verdict === 'deny' && l.reason === 'no-rule-matched'));
  });

  const stopped = new Promise((resolve) => proxy.child.once('exit', resolve));
  proxy.child.kill('SIGTERM');
  await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 5000))]);
});
