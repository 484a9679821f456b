import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fromFlowRecord } from '../../../src/learn/from-flow-record.js';
import { parseAccessLogText } from '../../../src/learn/parse-access-log.js';
import { readAccessLogs } from '../../../src/learn/read-access-logs.js';
import { formatJson, formatSquid } from '../../../src/logging/access-log-format.js';
import { makeRecord } from '../admin/make-record.js';

// Lines copied from docs/access-log.md (real runs) and from Squid's own access.log layout.
const JSON_LINES = [
  '{"time":"2026-11-22T16:50:41.480Z","flow_id":"5ebc8bb7-2","kind":"http","client":"127.0.0.1","client_port":47742,"listener":"127.0.0.1:3128","method":"GET","url":"http://origin.test:18080/index.html","host":"origin.test","port":18080,"verdict":"deny","reason":"path-not-allowed","rule":"local-files","detail":"path /index.html is not allowed for origin.test:18080","status":403,"bytes_up":0,"bytes_down":0,"duration_ms":7}',
  '{"time":"2026-11-22T16:50:42.037Z","flow_id":"5ebc8bb7-5","parent_id":"5ebc8bb7-4","kind":"http","client":"127.0.0.1","client_port":47762,"listener":"127.0.0.1:3128","method":"GET","url":"https://origin.test:18443/files/report.txt","host":"origin.test","port":18443,"verdict":"allow","reason":"rule-matched","rule":"local-files","status":200,"bytes_up":0,"bytes_down":5,"duration_ms":408,"upstream":"127.0.0.1:18443"}',
  '{"time":"2026-11-22T16:50:42.038Z","flow_id":"5ebc8bb7-4","kind":"tunnel","client":"127.0.0.1","client_port":47762,"listener":"127.0.0.1:3128","method":"CONNECT","url":"origin.test:18443","host":"origin.test","port":18443,"sni":"origin.test","verdict":"allow","reason":"rule-matched","rule":"local-files","status":200,"bytes_up":908,"bytes_down":1650,"duration_ms":514,"tunnel_mode":"intercept"}',
  '{"time":"2026-11-22T15:54:45.171Z","flow_id":"6de3f19a-1","kind":"http","client":"127.0.0.1","client_port":44296,"listener":"127.0.0.1:3131","method":"GET","url":"http://origin.test:18080/index.html","host":"origin.test","port":18080,"verdict":"allow","reason":"path-not-allowed","rule":"local","detail":"path /index.html is not allowed for origin.test:18080","would_deny":true,"would_allow":"trial","status":200,"bytes_up":0,"bytes_down":22,"duration_ms":94,"upstream":"127.0.0.1:18080"}',
];

const SQUID_LINES = [
  // ssl-bump: the CONNECT step, then the decrypted request (seed 002's Azure gateway).
  '1700000000.123     45 10.0.0.4 NONE_NONE/200 0 CONNECT www.example.com:443 - HIER_NONE/- -',
  '1700000000.200    120 10.0.0.4 TCP_MISS/200 5120 GET https://www.example.com/path/page.html - HIER_DIRECT/93.184.216.34 text/html',
  '1700000001.000     12 10.0.0.9 TCP_TUNNEL/200 6000 CONNECT pypi.org:443 alice HIER_DIRECT/151.101.0.223 -',
  '1700000002.500      0 10.0.0.9 TCP_DENIED/403 3800 GET http://evil.example/ - HIER_NONE/- text/html',
  '1700000003.000      1 10.0.0.9 TAG_NONE/409 0 GET http://deb.debian.org/ - HIER_NONE/- -',
  '1700000004.000      1 10.0.0.9 TCP_DENIED/407 3900 CONNECT pypi.org:443 - HIER_NONE/- text/html',
];

test('json lines are read with their decision, tunnel mode and target', () => {
  const { requests, problems } = parseAccessLogText(`${JSON_LINES.join('\n')}\n`, 'access.log');
  assert.deepEqual(problems, []);
  const [denied, inner, tunnel, dry] = requests;
  assert.deepEqual([denied?.verdict, denied?.reason, denied?.rule, denied?.target?.transport, denied?.target?.pathAndQuery], ['deny', 'path-not-allowed', 'local-files', 'http', '/index.html']);
  assert.deepEqual([inner?.target?.intercepted, inner?.target?.transport, inner?.target?.destination.port], [true, 'tls', 18443]);
  assert.deepEqual([tunnel?.kind, tunnel?.tunnelMode, tunnel?.sni, tunnel?.source], ['tunnel', 'intercept', 'origin.test', 'access.log:3']);
  assert.deepEqual([dry?.verdict, dry?.wouldDeny, dry?.wouldAllow, dry?.id], ['allow', true, 'trial', '6de3f19a-1']);
});

test('Squid lines: bumped CONNECT steps, tunnels, denials and Host forgery', () => {
  const { requests, problems } = parseAccessLogText(`${SQUID_LINES.join('\n')}\n`, 'squid.log');
  assert.deepEqual(problems, []);
  assert.deepEqual(requests.map((r) => [r.kind, r.verdict, r.reason, r.tunnelMode, r.user, r.target?.destination.host.host]), [
    ['tunnel', 'allow', undefined, 'intercept', undefined, 'www.example.com'],
    ['http', 'allow', undefined, undefined, undefined, 'www.example.com'],
    ['tunnel', 'allow', undefined, undefined, 'alice', 'pypi.org'],
    ['http', 'deny', undefined, undefined, undefined, 'evil.example'],
    ['http', 'deny', 'host-mismatch', undefined, undefined, 'deb.debian.org'],
    ['tunnel', 'deny', 'credentials-missing', undefined, undefined, 'pypi.org'],
  ]);
  assert.equal(requests[0]?.time, 1_700_000_000_123);
});

test('what Portcullis writes in either format reads back the same way', () => {
  const records = [
    makeRecord({ id: 'a', url: 'http://deb.debian.org/debian/x.deb', host: 'deb.debian.org', port: 80 }),
    makeRecord({ id: 'b', kind: 'tunnel', method: 'CONNECT', url: 'pypi.org:443', host: 'pypi.org', port: 443, tunnelMode: 'splice', status: 200 }),
    makeRecord({ id: 'c', parentId: 'd', url: '/storage/v1/b/bkt/o', host: 'storage.googleapis.com', port: 443, verdict: 'deny', reason: 'path-not-allowed', status: 403 }),
  ];
  for (const format of [formatJson, formatSquid]) {
    const { requests, problems } = parseAccessLogText(records.map((record) => format(record)).join('\n'), 'x');
    assert.deepEqual(problems, []);
    const live = records.map(fromFlowRecord);
    assert.deepEqual(requests.map((r) => [r.kind, r.verdict, r.url, r.target?.transport, r.target?.intercepted, r.target?.pathAndQuery]),
      live.map((r) => [r.kind, r.verdict, r.url, r.target?.transport, r.target?.intercepted, r.target?.pathAndQuery]));
  }
});

test('a line that is neither format is a problem naming file and line; a half-written last line is not', () => {
  const text = `${JSON_LINES[0]}\n\nnot a log line\n{"kind":"http"}\n${JSON_LINES[1]?.slice(0, 40)}`;
  const { requests, problems, lines } = parseAccessLogText(text, 'a.log');
  assert.equal(requests.length, 1);
  assert.equal(lines, 5);
  assert.deepEqual(problems.map((p) => p.source), ['a.log:3', 'a.log:4']);
  assert.match(problems[1]?.message ?? '', /"verdict" must be "allow" or "deny"/);
});

test('readAccessLogs reads plain and gzipped files and says which file cannot be read', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pcl-learn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'access.log'), `${JSON_LINES.join('\n')}\n`);
  writeFileSync(path.join(dir, 'access.log.1.gz'), gzipSync(`${SQUID_LINES.join('\n')}\nbad line\n`));
  const read = await readAccessLogs([path.join(dir, 'access.log'), path.join(dir, 'access.log.1.gz'), path.join(dir, 'missing.log')]);
  assert.equal(read.requests.length, JSON_LINES.length + SQUID_LINES.length);
  assert.deepEqual(read.problems.map((p) => p.source), [`${path.join(dir, 'access.log.1.gz')}:${SQUID_LINES.length + 1}`]);
  assert.deepEqual(read.unreadable.map((p) => [p.source, p.message]), [[path.join(dir, 'missing.log'), 'cannot read it: file not found']]);
});

test('DNS query lines, json or Squid, are skipped without a problem: learn has nothing to take from them', () => {
  const dns = makeRecord({ kind: 'dns', method: 'A', url: 'evil.test', host: 'evil.test', port: 0, status: 0, verdict: 'deny', reason: 'dns-name-not-allowed',
    dns: { transport: 'udp', rcode: 'NXDOMAIN', answers: [] } });
  const text = `${formatJson(dns)}\n${formatSquid(dns)}\n${JSON_LINES[0]}\n`;
  const { requests, problems, lines } = parseAccessLogText(text, 'access.log');
  assert.deepEqual(problems, []);
  assert.equal(lines, 3);
  assert.deepEqual(requests.map((r) => r.url), ['http://origin.test:18080/index.html']);
});
