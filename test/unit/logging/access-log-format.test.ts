import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowRecord } from '../../../src/flow/flow-record.js';
import { ACCESS_LOG_FIELDS } from '../../../src/logging/access-log-fields.js';
import {
  formatBytes,
  formatConsole,
  formatDuration,
  formatJson,
  formatSquid,
} from '../../../src/logging/access-log-format.js';
import { isoTime, newIsoSecondCache } from '../../../src/logging/iso-time.js';

// The console format prints local time; pin the zone so the expected lines are exact.
process.env.TZ = 'UTC';

const END = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z

const makeRecord = (overrides: Partial<FlowRecord> = {}): FlowRecord => {
  const durationMs = overrides.durationMs ?? 145;
  return {
    id: 'f-1',
    kind: 'http',
    startedAt: END - durationMs,
    durationMs,
    client: { address: '10.0.0.5', port: 51234 },
    listener: '127.0.0.1:3128',
    method: 'GET',
    url: 'http://example.com/',
    host: 'example.com',
    port: 80,
    verdict: 'allow',
    reason: 'rule-matched',
    rule: 'example',
    status: 200,
    bytesUp: 0,
    bytesDown: 5120,
    upstreamAddress: '93.184.216.34:80',
    contentType: 'text/html; charset=utf-8',
    ...overrides,
  };
};

const tunnel = (overrides: Partial<FlowRecord> = {}): FlowRecord =>
  makeRecord({
    kind: 'tunnel',
    method: 'CONNECT',
    url: 'example.com:443',
    port: 443,
    bytesUp: 700,
    bytesDown: 4096,
    upstreamAddress: '93.184.216.34:443',
    contentType: undefined,
    tunnelMode: 'splice',
    ...overrides,
  });

const denied = (overrides: Partial<FlowRecord> = {}): FlowRecord =>
  makeRecord({
    verdict: 'deny',
    reason: 'no-rule-matched',
    rule: undefined,
    status: 403,
    bytesDown: 0,
    upstreamAddress: undefined,
    contentType: undefined,
    ...overrides,
  });

const squidCases: Array<[string, FlowRecord, string]> = [
  [
    'an allowed request is a TCP_MISS with the upstream IP and the bare mime type',
    makeRecord(),
    '1700000000.123    145 10.0.0.5 TCP_MISS/200 5120 GET http://example.com/ - HIER_DIRECT/93.184.216.34 text/html',
  ],
  [
    'an allowed CONNECT is a TCP_TUNNEL/200 with the authority as URL',
    tunnel({ durationMs: 1520 }),
    '1700000000.123   1520 10.0.0.5 TCP_TUNNEL/200 4096 CONNECT example.com:443 - HIER_DIRECT/93.184.216.34 -',
  ],
  [
    'a denied request is TCP_DENIED/403 with no hierarchy',
    denied({ url: 'http://blocked.test/x', host: 'blocked.test', durationMs: 0 }),
    '1700000000.123      0 10.0.0.5 TCP_DENIED/403 0 GET http://blocked.test/x - HIER_NONE/- -',
  ],
  [
    'a denied TLS flow answered with an alert (status 0) is still TCP_DENIED/403',
    tunnel({ verdict: 'deny', reason: 'no-rule-matched', rule: undefined, status: 0, bytesDown: 0, upstreamAddress: undefined, tunnelMode: undefined }),
    '1700000000.123    145 10.0.0.5 TCP_DENIED/403 0 CONNECT example.com:443 - HIER_NONE/- -',
  ],
  [
    'an upstream that was never reached is TCP_MISS with the 5xx and no hierarchy',
    makeRecord({ status: 502, bytesDown: 0, upstreamAddress: undefined, contentType: undefined, errorCode: 'PCL_ERR_UPSTREAM_REFUSED' }),
    '1700000000.123    145 10.0.0.5 TCP_MISS/502 0 GET http://example.com/ - HIER_NONE/- -',
  ],
  [
    'an upstream timeout after connecting keeps HIER_DIRECT',
    makeRecord({ status: 504, bytesDown: 0, contentType: undefined, errorCode: 'PCL_ERR_UPSTREAM_TIMEOUT', durationMs: 30000 }),
    '1700000000.123  30000 10.0.0.5 TCP_MISS/504 0 GET http://example.com/ - HIER_DIRECT/93.184.216.34 -',
  ],
  [
    'a CONNECT whose upstream failed before the 200 is TCP_MISS/503',
    tunnel({ status: 503, bytesUp: 0, bytesDown: 0, upstreamAddress: undefined, tunnelMode: undefined, errorCode: 'PCL_ERR_DNS_FAILED' }),
    '1700000000.123    145 10.0.0.5 TCP_MISS/503 0 CONNECT example.com:443 - HIER_NONE/- -',
  ],
  [
    'a client that went away before the response is TCP_MISS_ABORTED/000',
    makeRecord({ status: 0, bytesDown: 0, contentType: undefined, errorCode: 'PCL_ERR_CLIENT_ABORTED' }),
    '1700000000.123    145 10.0.0.5 TCP_MISS_ABORTED/000 0 GET http://example.com/ - HIER_DIRECT/93.184.216.34 -',
  ],
  [
    'a client that aborted mid-body keeps the status it got',
    makeRecord({ bytesDown: 1000, errorCode: 'PCL_ERR_CLIENT_ABORTED' }),
    '1700000000.123    145 10.0.0.5 TCP_MISS_ABORTED/200 1000 GET http://example.com/ - HIER_DIRECT/93.184.216.34 text/html',
  ],
  [
    'an intercepted request logs its full https URL',
    makeRecord({ parentId: 't-1', url: 'https://www.googleapis.com/storage/v1/b/bkt/o?alt=json', host: 'www.googleapis.com', port: 443, upstreamAddress: '142.250.1.1:443', contentType: 'application/json' }),
    '1700000000.123    145 10.0.0.5 TCP_MISS/200 5120 GET https://www.googleapis.com/storage/v1/b/bkt/o?alt=json - HIER_DIRECT/142.250.1.1 application/json',
  ],
  [
    'an intercepted request recorded in origin form is made absolute (https, port kept when not 443)',
    makeRecord({ parentId: 't-1', url: '/v1/x', host: 'api.test', port: 8443, upstreamAddress: '127.0.0.1:8443', contentType: undefined }),
    '1700000000.123    145 10.0.0.5 TCP_MISS/200 5120 GET https://api.test:8443/v1/x - HIER_DIRECT/127.0.0.1 -',
  ],
  [
    'the user, IPv6 client and IPv6 upstream are logged bare',
    makeRecord({ user: 'alice', client: { address: '::1', port: 1 }, upstreamAddress: '[2001:db8::1]:80' }),
    '1700000000.123    145 ::1 TCP_MISS/200 5120 GET http://example.com/ alice HIER_DIRECT/2001:db8::1 text/html',
  ],
  [
    'credentials in the URL are redacted',
    denied({ url: 'http://bob:s3cret@example.com/p', reason: 'userinfo-in-url' }),
    '1700000000.123    145 10.0.0.5 TCP_DENIED/403 0 GET http://***@example.com/p - HIER_NONE/- -',
  ],
  [
    'spaces and control characters are percent-encoded so the fields stay apart',
    denied({ method: 'GE T', url: 'http://example.com/a b\r\nc', user: 'al ice' }),
    '1700000000.123    145 10.0.0.5 TCP_DENIED/403 0 GE%20T http://example.com/a%20b%0D%0Ac al%20ice HIER_NONE/- -',
  ],
  [
    'the reply size counts the response head as sent, as Squid does',
    makeRecord({ bytesDown: 5120, responseHeadBytes: 230 }),
    '1700000000.123    145 10.0.0.5 TCP_MISS/200 5350 GET http://example.com/ - HIER_DIRECT/93.184.216.34 text/html',
  ],
  [
    'a 403 Portcullis wrote counts its head and body',
    denied({ bytesDown: 208, responseHeadBytes: 312 }),
    '1700000000.123    145 10.0.0.5 TCP_DENIED/403 520 GET http://example.com/ - HIER_NONE/- -',
  ],
  [
    'a response with a head and no body is logged with the head\'s size',
    makeRecord({ status: 304, bytesDown: 0, responseHeadBytes: 150, contentType: undefined }),
    '1700000000.123    145 10.0.0.5 TCP_MISS/304 150 GET http://example.com/ - HIER_DIRECT/93.184.216.34 -',
  ],
  [
    'a tunnel counts its 200 Connection Established head',
    tunnel({ bytesDown: 4096, responseHeadBytes: 39 }),
    '1700000000.123    145 10.0.0.5 TCP_TUNNEL/200 4135 CONNECT example.com:443 - HIER_DIRECT/93.184.216.34 -',
  ],
  [
    'an intercepted CONNECT with its upstream address is HIER_DIRECT to that address',
    tunnel({ tunnelMode: 'intercept', upstreamAddress: '142.250.1.1:443', host: 'www.googleapis.com', url: 'www.googleapis.com:443' }),
    '1700000000.123    145 10.0.0.5 TCP_TUNNEL/200 4096 CONNECT www.googleapis.com:443 - HIER_DIRECT/142.250.1.1 -',
  ],
  [
    'an intercepted CONNECT without an upstream address is still HIER_DIRECT, to its host',
    tunnel({ tunnelMode: 'intercept', upstreamAddress: undefined, host: 'www.googleapis.com', url: 'www.googleapis.com:443' }),
    '1700000000.123    145 10.0.0.5 TCP_TUNNEL/200 4096 CONNECT www.googleapis.com:443 - HIER_DIRECT/www.googleapis.com -',
  ],
  [
    'an allowed spliced tunnel without an upstream address is HIER_DIRECT to its host',
    tunnel({ upstreamAddress: undefined }),
    '1700000000.123    145 10.0.0.5 TCP_TUNNEL/200 4096 CONNECT example.com:443 - HIER_DIRECT/example.com -',
  ],
  [
    'a negative or non-finite head size counts as nothing',
    makeRecord({ bytesDown: 10, responseHeadBytes: Number.NaN, contentType: undefined }),
    '1700000000.123    145 10.0.0.5 TCP_MISS/200 10 GET http://example.com/ - HIER_DIRECT/93.184.216.34 -',
  ],
  [
    'a dry-run would-deny is logged as the allowed flow it was',
    makeRecord({ wouldDeny: true, reason: 'no-rule-matched', rule: undefined }),
    '1700000000.123    145 10.0.0.5 TCP_MISS/200 5120 GET http://example.com/ - HIER_DIRECT/93.184.216.34 text/html',
  ],
];

for (const [name, record, expected] of squidCases) {
  test(`squid: ${name}`, () => {
    assert.equal(formatSquid(record), expected);
  });
}

test('squid: the timestamp is when the flow finished, with zero-padded milliseconds', () => {
  const line = formatSquid(makeRecord({ startedAt: 1_700_000_000_000, durationMs: 7 }));
  assert.match(line, /^1700000000\.007      7 /);
});

const jsonCases: Array<[string, FlowRecord, string]> = [
  [
    'every present field is written in the documented order',
    makeRecord({ parentId: 't-9', sni: 'example.com', detail: 'ok', wouldDeny: false, user: 'alice', tunnelMode: 'intercept', errorCode: 'PCL_ERR_UPSTREAM_RESET', bytesUp: 12 }),
    '{"time":"2023-11-14T22:13:20.123Z","flow_id":"f-1","parent_id":"t-9","kind":"http","client":"10.0.0.5","client_port":51234,' +
      '"listener":"127.0.0.1:3128","method":"GET","url":"http://example.com/","host":"example.com","port":80,"sni":"example.com",' +
      '"verdict":"allow","reason":"rule-matched","rule":"example","detail":"ok","would_deny":false,"status":200,"bytes_up":12,' +
      '"bytes_down":5120,"duration_ms":145,"upstream":"93.184.216.34:80","tunnel_mode":"intercept","error":"PCL_ERR_UPSTREAM_RESET","user":"alice"}',
  ],
  [
    'absent optional fields are omitted',
    denied({ durationMs: 3 }),
    '{"time":"2023-11-14T22:13:20.123Z","flow_id":"f-1","kind":"http","client":"10.0.0.5","client_port":51234,' +
      '"listener":"127.0.0.1:3128","method":"GET","url":"http://example.com/","host":"example.com","port":80,' +
      '"verdict":"deny","reason":"no-rule-matched","status":403,"bytes_up":0,"bytes_down":0,"duration_ms":3}',
  ],
  [
    'a dry-run would-deny says so',
    tunnel({ wouldDeny: true, reason: 'no-rule-matched', rule: undefined, upstreamAddress: undefined, tunnelMode: undefined, bytesUp: 0, bytesDown: 0 }),
    '{"time":"2023-11-14T22:13:20.123Z","flow_id":"f-1","kind":"tunnel","client":"10.0.0.5","client_port":51234,' +
      '"listener":"127.0.0.1:3128","method":"CONNECT","url":"example.com:443","host":"example.com","port":443,' +
      '"verdict":"allow","reason":"no-rule-matched","would_deny":true,"status":200,"bytes_up":0,"bytes_down":0,"duration_ms":145}',
  ],
];

for (const [name, record, expected] of jsonCases) {
  test(`json: ${name}`, () => {
    assert.equal(formatJson(record), expected);
  });
}

test('json: only documented field names are used', () => {
  const full = makeRecord({
    parentId: 'p', sni: 's', originalDestination: '10.0.0.1:443', detail: 'd', wouldDeny: true, wouldAllow: 'trial', user: 'u', tunnelMode: 'splice', errorCode: 'E',
    dns: { transport: 'udp', rcode: 'NOERROR', answers: ['192.0.2.1'] },
  });
  assert.deepEqual(Object.keys(JSON.parse(formatJson(full))), [...ACCESS_LOG_FIELDS]);
});

const consoleCases: Array<[string, FlowRecord, boolean, string]> = [
  [
    'an allowed request shows status, size, time and rule',
    makeRecord({ client: { address: '127.0.0.1', port: 1 }, bytesDown: 1229, durationMs: 12 }),
    false,
    '22:13:20.123 ALLOW 127.0.0.1 GET http://example.com/ → 200 1.2 KB 12 ms [rule example]',
  ],
  [
    'a denial shows the reason code',
    denied({ client: { address: '127.0.0.1', port: 1 }, url: 'http://evil.test/', durationMs: 1 }),
    false,
    '22:13:20.123 DENY 127.0.0.1 GET http://evil.test/ → 403 0 B 1 ms [no-rule-matched]',
  ],
  [
    'a denial names the closest rule and the detail',
    denied({ reason: 'path-not-allowed', rule: 'gcs', detail: 'path /x is not allowed' }),
    false,
    '22:13:20.123 DENY 10.0.0.5 GET http://example.com/ → 403 0 B 145 ms [path-not-allowed rule gcs] (path /x is not allowed)',
  ],
  [
    'a tunnel shows both directions and its mode',
    tunnel({ durationMs: 1520 }),
    false,
    '22:13:20.123 ALLOW 10.0.0.5 CONNECT example.com:443 → 200 ↑700 B ↓4 KB 1.52 s splice [rule example]',
  ],
  [
    'a failed request shows the error code and no status when none was sent',
    makeRecord({ status: 0, bytesDown: 0, errorCode: 'PCL_ERR_CLIENT_ABORTED', user: 'alice' }),
    false,
    '22:13:20.123 ALLOW 10.0.0.5 GET http://example.com/ → - 0 B 145 ms [rule example] user=alice PCL_ERR_CLIENT_ABORTED',
  ],
  [
    'color: allow is green',
    makeRecord(),
    true,
    '22:13:20.123 \u001b[32mALLOW\u001b[0m 10.0.0.5 GET http://example.com/ → 200 5 KB 145 ms [rule example]',
  ],
  [
    'color: deny is red',
    denied(),
    true,
    '22:13:20.123 \u001b[31mDENY\u001b[0m 10.0.0.5 GET http://example.com/ → 403 0 B 145 ms [no-rule-matched]',
  ],
  [
    'a denial a report-mode rule would have allowed names that rule',
    denied({ wouldAllow: 'new-api' }),
    false,
    '22:13:20.123 DENY 10.0.0.5 GET http://example.com/ → 403 0 B 145 ms [no-rule-matched] would-allow=new-api',
  ],
  [
    'color: a dry-run would-deny is yellow',
    makeRecord({ wouldDeny: true, reason: 'no-rule-matched', rule: undefined }),
    true,
    '22:13:20.123 \u001b[33mWOULD-DENY\u001b[0m 10.0.0.5 GET http://example.com/ → 200 5 KB 145 ms [no-rule-matched]',
  ],
];

for (const [name, record, color, expected] of consoleCases) {
  test(`console: ${name}`, () => {
    assert.equal(formatConsole(record, { color }), expected);
  });
}

test('console: sizes and durations read naturally', () => {
  assert.deepEqual(
    [0, 1023, 1024, 1229, 12_800, 3_565_158, 5 * 1024 ** 4].map(formatBytes),
    ['0 B', '1023 B', '1 KB', '1.2 KB', '13 KB', '3.4 MB', '5 TB'],
  );
  assert.deepEqual([0, 999, 999.6, 1520, 75_300].map(formatDuration), ['0 ms', '999 ms', '1.00 s', '1.52 s', '75.3 s']);
});

const ATTACKS = [
  'a\nb',
  'a\r\n2023-11-14T00:00:00Z ALLOW 10.0.0.1 GET http://forged/ → 200',
  '\u2028x\u2029y\u0085z',
  '\u001b[2J\u001b[31mred',
  'tab\there\u0000nul\u007fdel',
  'bidi \u202egnp.exe',
  '"quoted" \\ {"json":1}',
  'lone \ud800 surrogate',
];
const RAW_BREAKS = /[\n\r\u000b\u000c\u0085\u2028\u2029]/;

for (const attack of ATTACKS) {
  const record = makeRecord({
    method: attack,
    url: `http://example.com/${attack}`,
    host: attack,
    sni: attack,
    detail: attack,
    user: attack,
    rule: attack,
    reason: attack,
    errorCode: attack,
    contentType: attack,
    listener: attack,
  });
  const label = JSON.stringify(attack);

  test(`injection ${label} stays on one json line and round-trips`, () => {
    const line = formatJson(record);
    assert.doesNotMatch(line, RAW_BREAKS);
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202e]/);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.equal(parsed['detail'], attack); // escaped, not altered
    assert.equal(parsed['user'], attack);
  });

  test(`injection ${label} stays on one squid line with ten fields`, () => {
    const line = formatSquid(record);
    assert.match(line, /^[\x21-\x7e ]+$/);
    assert.equal(line.trim().split(/ +/).length, 10);
  });

  for (const color of [false, true]) {
    test(`injection ${label} stays on one console line (color ${color})`, () => {
      const line = formatConsole(record, { color });
      // The only escape sequences are the ones we add for color.
      const plain = line.replace(/\u001b\[(?:32|0)m/g, '');
      assert.equal(line.length - plain.length, color ? 9 : 0);
      assert.doesNotMatch(plain, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/);
    });
  }
}

const dnsRecord = (overrides: Partial<FlowRecord> = {}): FlowRecord => makeRecord({
  kind: 'dns', method: 'A', url: 'www.example.com', host: 'www.example.com', port: 0, status: 0, bytesDown: 0, rule: 'wild', durationMs: 2,
  client: { address: '10.0.0.5', port: 5353 }, dns: { transport: 'udp', rcode: 'NOERROR', answers: ['192.0.2.1', '192.0.2.2'] }, ...overrides,
});

test('json: a DNS query carries its transport, response code and answers', () => {
  const line = JSON.parse(formatJson(dnsRecord())) as Record<string, unknown>;
  assert.equal(line.kind, 'dns');
  assert.equal(line.method, 'A');
  assert.equal(line.url, 'www.example.com');
  assert.equal(line.dns_transport, 'udp');
  assert.equal(line.dns_rcode, 'NOERROR');
  assert.equal(line.dns_answers, '192.0.2.1,192.0.2.2');
});

test('squid: a DNS query is DNS_ANSWERED or DNS_DENIED with status 000 and its response code in the type field', () => {
  assert.match(formatSquid(dnsRecord()), / 10\.0\.0\.5 DNS_ANSWERED\/000 0 A www\.example\.com - HIER_NONE\/- NOERROR$/);
  const denied = dnsRecord({ verdict: 'deny', reason: 'dns-name-not-allowed', url: 'evil.test', host: 'evil.test', dns: { transport: 'tcp', rcode: 'NXDOMAIN', answers: [] } });
  assert.match(formatSquid(denied), / DNS_DENIED\/000 0 A evil\.test - HIER_NONE\/- NXDOMAIN$/);
});

test('console: a DNS query shows the response code, transport and answers', () => {
  assert.equal(formatConsole(dnsRecord(), { color: false }), '22:13:20.123 ALLOW 10.0.0.5 A www.example.com → NOERROR udp 192.0.2.1,192.0.2.2 2 ms [rule wild]');
});

test('isoTime writes what Date#toISOString writes, with one cache across seconds, years and signs', () => {
  const cache = newIsoSecondCache();
  const samples = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1_764_777_600_000, 1_764_777_600_999, 1_764_777_601_005, -1, -999, -1000, -1001, 8.64e15, -8.64e15, 253_402_300_799_999, 253_402_300_800_000];
  // Sequential ms, as a busy log writes them, and jumps back and forth.
  for (let ms = 1_764_777_599_990; ms < 1_764_777_600_020; ms += 1) samples.push(ms);
  for (const ms of [...samples, ...samples.reverse()]) assert.equal(isoTime(ms, cache), new Date(ms).toISOString(), String(ms));
});
