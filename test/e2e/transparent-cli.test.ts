import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli-process.js';

const configFile = (t: { after(fn: () => void): void }, body: string): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-transparent-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'portcullis.yaml');
  writeFileSync(file, body);
  return file;
};

const TRANSPARENT = `
listen:
  - { address: "[::]:3129", mode: transparent-http }
  - { address: "[::]:3130", mode: transparent-tls }
transparent: { verify_original_destination: true, sni_missing: original-destination }
rules:
  - name: aws
    hosts: ["*.amazonaws.com"]
`;

test('transparent rules --help explains the flags with examples and exits 0', async () => {
  const result = await runCli(['transparent', 'rules', '--help']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /--user <name>/);
  assert.match(result.stdout, /--interface <iface>/);
  assert.match(result.stdout, /Examples:\n {2}portcullis transparent rules -c portcullis\.yaml/);
});

test('transparent rules prints iptables and nft commands with the loop guard and the QUIC block, exit 0', async (t) => {
  const file = configFile(t, TRANSPARENT);
  const result = await runCli(['transparent', 'rules', '-c', file, '--user', 'portcullis', '--interface', 'eth1']);
  assert.equal(result.code, 0, result.stderr);
  for (const expected of [
    'iptables -t nat -A PREROUTING -i eth1 -p tcp --dport 80 -j REDIRECT --to-ports 3129',
    'ip6tables -t nat -A PREROUTING -i eth1 -p tcp --dport 443 -j REDIRECT --to-ports 3130',
    'iptables -t nat -A OUTPUT ! -o lo -p tcp --dport 443 -m owner ! --uid-owner portcullis -j REDIRECT --to-ports 3130',
    'iptables -A FORWARD -i eth1 -p udp --dport 443 -j REJECT',
    `nft 'add rule inet portcullis output oifname != "lo" tcp dport 443 meta skuid != "portcullis" redirect to :3130'`,
  ]) assert.ok(result.stdout.includes(expected), `missing: ${expected}\n${result.stdout}`);
});

test('transparent rules refuses a config without transparent listeners (exit 1) and bad flags (exit 2)', async (t) => {
  const none = await runCli(['transparent', 'rules']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no transparent or dns listener/);
  const file = configFile(t, TRANSPARENT);
  const both = await runCli(['transparent', 'rules', '-c', file, '--user', 'a', '--group', 'b']);
  assert.equal(both.code, 2);
  const source = await runCli(['transparent', 'rules', '-c', file, '--source', 'not-a-cidr']);
  assert.equal(source.code, 2);
  assert.match(source.stderr, /--source "not-a-cidr"/);
  const target = await runCli(['transparent', 'rules', '-c', file, '--target', 'elsewhere']);
  assert.equal(target.code, 2);
});

test('check accepts the transparent keys and rejects an unknown sni_missing value with file:line', async (t) => {
  const good = await runCli(['check', '-c', configFile(t, TRANSPARENT)]);
  assert.equal(good.code, 0, good.stderr);
  const bad = configFile(t, `${TRANSPARENT.replace('sni_missing: original-destination', 'sni_missing: allow')}`);
  const result = await runCli(['check', '-c', bad]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /:\d+.*sni_missing/);
});
