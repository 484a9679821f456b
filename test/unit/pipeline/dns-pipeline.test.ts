import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnsReply, ServiceRecordSource } from '../../../src/pipeline/dns-answers.js';
import { runDnsQuery, type DnsQuery } from '../../../src/pipeline/dns-pipeline.js';
import { createExfiltrationGuard, type ExfiltrationGuard } from '../../../src/pipeline/exfiltration-guard.js';
import { describeServiceBinding } from '../../../src/pipeline/service-binding.js';
import { fakeContext, tableLookup, type FakeContext } from '../../helpers/pipeline-fakes.js';
import type { TestConfigInput } from '../../helpers/test-proxy.js';

const RULES = [
  { name: 'wild', hosts: ['*.example.com'] },
  { name: 'office', hosts: ['intranet.example.org'], clients: ['10.0.0.0/8'] },
  { name: 'private', hosts: ['db.internal.test'] },
];
const TABLE = {
  'www.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'v4only.example.com': ['93.184.216.35'],
  'intranet.example.org': ['93.184.216.36'],
  'db.internal.test': ['10.1.2.3'],
};

/** An HTTPS record "1 . alpn=h2 ipv4hint=192.0.2.1 ech=AQID": key 1 alpn, key 4 ipv4hint, key 5 ech. */
const HTTPS_WITH_ECH = new Uint8Array([0, 1, 0, 0, 1, 0, 3, 2, 0x68, 0x32, 0, 4, 0, 4, 192, 0, 2, 1, 0, 5, 0, 3, 1, 2, 3]);

interface Run {
  readonly context: FakeContext;
  readonly replies: DnsReply[];
  readonly upstream: string[];
  query(query: DnsQuery, client?: string, transport?: 'udp' | 'tcp'): Promise<DnsReply>;
}

const setup = (config: TestConfigInput = {}, guard: ExfiltrationGuard = createExfiltrationGuard()): Run => {
  const context = fakeContext({ rules: RULES, ...config }, { lookup: tableLookup(TABLE) });
  const replies: DnsReply[] = [];
  const upstream: string[] = [];
  const serviceRecords: ServiceRecordSource = async (name, type) => {
    upstream.push(`${type} ${name}`);
    return { rcode: 'NOERROR', records: [{ rdata: HTTPS_WITH_ECH, ttl: 3600 }], server: '192.0.2.53:53' };
  };
  return {
    context, replies, upstream,
    query: (query, client = '10.1.1.1', transport = 'udp') => new Promise((resolve) => {
      runDnsQuery(context, {
        connection: { client: { address: client, port: 5353 }, listener: '127.0.0.1:53' }, transport, query,
        respond: (reply) => {
          replies.push(reply);
          resolve(reply);
        },
      }, { guard, serviceRecords });
    }),
  };
};

const ask = (name: string, type = 'A'): DnsQuery => ({ ok: true, name, type });

test('an allowed name gets the addresses of its family from the proxy\'s resolver, with answer_ttl', async () => {
  const run = setup({ dns: { answer_ttl: '30s' } });
  assert.deepEqual(await run.query(ask('WWW.Example.com.')), { rcode: 'NOERROR', answers: [{ type: 'A', address: '93.184.216.34', ttl: 30 }] });
  assert.deepEqual(await run.query(ask('www.example.com', 'AAAA')), {
    rcode: 'NOERROR', answers: [{ type: 'AAAA', address: '2606:2800:220:1:248:1893:25c8:1946', ttl: 30 }],
  });
  const [first] = run.context.flows;
  assert.deepEqual([first?.kind, first?.method, first?.url, first?.host, first?.verdict, first?.reason, first?.rule],
    ['dns', 'A', 'www.example.com', 'www.example.com', 'allow', 'rule-matched', 'wild']);
  assert.deepEqual(first?.dns, { transport: 'udp', rcode: 'NOERROR', answers: ['93.184.216.34'] });
});

test('a name pinned in resolve: is answered with the pin', async () => {
  const run = setup({ resolve: { 'pinned.example.com': '93.184.216.77' } });
  assert.deepEqual((await run.query(ask('pinned.example.com'))).answers, [{ type: 'A', address: '93.184.216.77', ttl: 60 }]);
});

test('a family with no address is an empty NOERROR, never NXDOMAIN (which would deny the other family too)', async () => {
  const run = setup();
  assert.deepEqual(await run.query(ask('v4only.example.com', 'AAAA')), { rcode: 'NOERROR', answers: [] });
});

test('an allowed name that does not exist is NXDOMAIN, still allowed by its rule', async () => {
  const run = setup();
  assert.deepEqual(await run.query(ask('missing.example.com')), { rcode: 'NXDOMAIN', answers: [] });
  assert.deepEqual([run.context.flows[0]?.verdict, run.context.flows[0]?.rule], ['allow', 'wild']);
});

test('a name no rule could allow gets NXDOMAIN by default, REFUSED with refuse_with: refused, and never reaches the resolver', async () => {
  const lookups = tableLookup(TABLE);
  const context = fakeContext({ rules: RULES }, { lookup: lookups });
  const replies: DnsReply[] = [];
  runDnsQuery(context, {
    connection: { client: { address: '10.1.1.1', port: 1 }, listener: '127.0.0.1:53' }, transport: 'udp', query: ask('evil.test'),
    respond: (reply) => replies.push(reply),
  }, { guard: createExfiltrationGuard(), serviceRecords: async () => { throw new Error('not asked'); } });
  assert.deepEqual(replies, [{ rcode: 'NXDOMAIN', answers: [] }]);
  assert.deepEqual(lookups.calls, []);
  assert.deepEqual([context.flows[0]?.verdict, context.flows[0]?.reason], ['deny', 'dns-name-not-allowed']);
  const refusing = setup({ dns: { refuse_with: 'refused' } });
  assert.equal((await refusing.query(ask('evil.test'))).rcode, 'REFUSED');
});

test('a rule\'s clients are the DNS listener\'s clients too', async () => {
  const run = setup();
  assert.equal((await run.query(ask('intranet.example.org'), '10.9.9.9')).rcode, 'NOERROR');
  assert.equal((await run.query(ask('intranet.example.org'), '192.168.1.5')).rcode, 'NXDOMAIN');
  assert.deepEqual([run.context.flows[1]?.reason, run.context.flows[1]?.rule], ['dns-name-not-allowed', 'office']);
});

test('addresses the address guard refuses are not answered: the flow says address-blocked', async () => {
  const run = setup({ destinations: { allow_ranges: [] } });
  assert.deepEqual(await run.query(ask('db.internal.test')), { rcode: 'NOERROR', answers: [] });
  assert.deepEqual([run.context.flows[0]?.verdict, run.context.flows[0]?.reason], ['deny', 'address-blocked']);
  assert.match(run.context.flows[0]?.detail ?? '', /10\.1\.2\.3 \(private\)/);
});

test('TXT, MX and ANY are refused with dns-type-not-allowed', async () => {
  const run = setup();
  for (const type of ['TXT', 'MX', 'ANY', 'CNAME']) assert.equal((await run.query(ask('www.example.com', type))).rcode, 'REFUSED', type);
  assert.ok(run.context.flows.every((flow) => flow.reason === 'dns-type-not-allowed' && flow.verdict === 'deny'));
});

test('HTTPS records are passed on without ech and address hints, TTL capped; pinned names get none', async () => {
  const run = setup({ resolve: { 'pinned.example.com': '93.184.216.77' } });
  const reply = await run.query(ask('www.example.com', 'HTTPS'));
  assert.equal(reply.rcode, 'NOERROR');
  const [record] = reply.answers;
  assert.ok(record !== undefined && 'rdata' in record);
  assert.equal(describeServiceBinding(record.rdata), '1 . alpn=h2');
  assert.equal(record.ttl, 60);
  assert.deepEqual(run.context.flows[0]?.dns?.answers, ['1 . alpn=h2']);
  assert.equal(run.context.flows[0]?.upstreamAddress, '192.0.2.53:53');
  assert.deepEqual(await run.query(ask('pinned.example.com', 'HTTPS')), { rcode: 'NOERROR', answers: [] });
  assert.deepEqual(run.upstream, ['HTTPS www.example.com']);
});

test('https_records: refuse refuses HTTPS and SVCB questions', async () => {
  const run = setup({ dns: { https_records: 'refuse' } });
  assert.equal((await run.query(ask('www.example.com', 'HTTPS'))).rcode, 'REFUSED');
  assert.equal((await run.query(ask('www.example.com', 'SVCB'))).rcode, 'REFUSED');
  assert.deepEqual(run.upstream, []);
  assert.equal(run.context.flows[0]?.reason, 'dns-type-not-allowed');
});

test('a malformed message is answered FORMERR when it may be, and always recorded', async () => {
  const run = setup();
  assert.equal((await run.query({ ok: false, rcode: 'FORMERR', detail: 'malformed DNS message: bad label', respond: true })).rcode, 'FORMERR');
  runDnsQuery(run.context, {
    connection: { client: { address: '10.1.1.1', port: 1 }, listener: '127.0.0.1:53' }, transport: 'udp',
    query: { ok: false, rcode: 'FORMERR', detail: 'a DNS response, not a query', respond: false },
    respond: () => assert.fail('a response is never answered'),
  }, { guard: createExfiltrationGuard(), serviceRecords: async () => ({ rcode: 'NOERROR', records: [], server: '-' }) });
  assert.deepEqual(run.context.flows.map((flow) => [flow.reason, flow.dns?.rcode]), [['malformed-request', 'FORMERR'], ['malformed-request', '-']]);
});

test('a name that is not a host name, or is an address, is refused', async () => {
  const run = setup();
  assert.equal((await run.query(ask('a b.example.com'))).rcode, 'NXDOMAIN');
  assert.equal((await run.query(ask('127.0.0.1'))).rcode, 'NXDOMAIN');
  assert.ok(run.context.flows.every((flow) => flow.reason === 'dns-name-not-allowed'));
});

test('dry run answers a refused name and logs it as a would-deny', async () => {
  const run = setup({ dry_run: true });
  assert.equal((await run.query(ask('missing.test'))).rcode, 'NXDOMAIN');
  assert.deepEqual([run.context.flows[0]?.verdict, run.context.flows[0]?.wouldDeny, run.context.flows[0]?.reason], ['allow', true, 'dns-name-not-allowed']);
});

test('a suspected exfiltration is refused, recorded with its reason and rule, and never reaches the resolver', async () => {
  const lookups = tableLookup(TABLE);
  const context = fakeContext({ rules: RULES }, { lookup: lookups });
  const replies: DnsReply[] = [];
  const name = `${'mzxw6ytboi'.repeat(6)}.t.example.com`;
  runDnsQuery(context, {
    connection: { client: { address: '10.1.1.1', port: 1 }, listener: '127.0.0.1:53' }, transport: 'udp', query: ask(name),
    respond: (reply) => replies.push(reply),
  }, { guard: createExfiltrationGuard(), serviceRecords: async () => ({ rcode: 'NOERROR', records: [], server: '-' }) });
  assert.deepEqual(replies, [{ rcode: 'NXDOMAIN', answers: [] }]);
  assert.deepEqual(lookups.calls, []);
  assert.deepEqual([context.flows[0]?.reason, context.flows[0]?.rule], ['dns-exfiltration-suspected', 'wild']);
  assert.match(context.flows[0]?.detail ?? '', /a label of 60 characters, more than dns\.exfiltration\.max_label_length \(48\)/);
});
