import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { encodeReply, readQuery, udpLimit } from '../../../src/net/dns-message.js';
import { describeServiceBinding, stripServiceBinding } from '../../../src/pipeline/service-binding.js';

const query = (name: string, type: string, extra: Partial<dnsPacket.Packet> = {}): Buffer => dnsPacket.encode({
  type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }], ...extra,
});

test('readQuery reads one IN question, with the name as sent and HTTPS/SVCB named', () => {
  const a = readQuery(query('WwW.Example.COM', 'A'));
  assert.deepEqual(a.query, { ok: true, name: 'WwW.Example.COM', type: 'A' });
  assert.equal(a.id, 4242);
  assert.equal(a.recursionDesired, true);
  assert.deepEqual(readQuery(query('example.com', 'UNKNOWN_65')).query, { ok: true, name: 'example.com', type: 'HTTPS' });
  assert.deepEqual(readQuery(query('example.com', 'UNKNOWN_64')).query, { ok: true, name: 'example.com', type: 'SVCB' });
  assert.deepEqual(readQuery(query('example.com', 'UNKNOWN_999')).query, { ok: true, name: 'example.com', type: 'TYPE999' });
});

const malformed: ReadonlyArray<[string, Buffer, 'FORMERR' | 'NOTIMP', boolean, RegExp]> = [
  ['a message shorter than a header is not answered', Buffer.from([1, 2, 3]), 'FORMERR', false, /shorter than a DNS header/],
  ['a response sent to us is not answered (no reflection)', dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'a.test', type: 'A' }] }), 'FORMERR', false, /a DNS response/],
  ['a name that runs past the end is FORMERR', Buffer.concat([query('example.com', 'A').subarray(0, 14)]), 'FORMERR', true, /malformed DNS message/],
  ['a compression pointer loop is FORMERR', Buffer.from([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]), 'FORMERR', true, /bad pointer|malformed/],
  ['two questions are FORMERR', dnsPacket.encode({ type: 'query', id: 2, questions: [{ name: 'a.test', type: 'A' }, { name: 'b.test', type: 'A' }] }), 'FORMERR', true, /2 questions/],
  ['no question is FORMERR', dnsPacket.encode({ type: 'query', id: 3, questions: [] }), 'FORMERR', true, /0 questions/],
  ['class CHAOS (version.bind) is NOTIMP', query('version.bind', 'TXT', { questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] }), 'NOTIMP', true, /class CH/],
];

for (const [title, bytes, rcode, respond, detail] of malformed) {
  test(`readQuery: ${title}`, () => {
    const received = readQuery(bytes);
    assert.equal(received.query.ok, false);
    if (received.query.ok) return;
    assert.equal(received.query.rcode, rcode);
    assert.equal(received.query.respond, respond);
    assert.match(received.query.detail, detail);
  });
}

test('readQuery: an opcode other than QUERY is NOTIMP', () => {
  const bytes = query('example.com', 'A');
  bytes.writeUInt16BE(bytes.readUInt16BE(2) | (2 << 11), 2); // STATUS
  const received = readQuery(bytes);
  assert.equal(received.query.ok === false && received.query.rcode, 'NOTIMP');
});

test('encodeReply echoes the question and id, sets RA, copies RD, and carries the rcode and answers', () => {
  const received = readQuery(query('WwW.Example.com', 'A'));
  const decoded = dnsPacket.decode(encodeReply(received, { rcode: 'NOERROR', answers: [{ type: 'A', address: '192.0.2.1', ttl: 60 }] }, 512));
  assert.equal(decoded.id, 4242);
  assert.equal(decoded.flag_qr, true);
  assert.equal(decoded.flag_ra, true);
  assert.equal(decoded.flag_rd, true);
  assert.equal((decoded as { rcode?: string }).rcode, 'NOERROR');
  assert.deepEqual(decoded.questions, [{ name: 'WwW.Example.com', type: 'A', class: 'IN' }]);
  assert.deepEqual(decoded.answers?.map((a) => [a.name, a.type, (a as { data: string }).data, (a as { ttl: number }).ttl]), [['WwW.Example.com', 'A', '192.0.2.1', 60]]);
  const denied = dnsPacket.decode(encodeReply(received, { rcode: 'NXDOMAIN', answers: [] }, 512));
  assert.equal((denied as { rcode?: string }).rcode, 'NXDOMAIN');
});

test('encodeReply: a reply too big for UDP is sent empty with TC set; EDNS raises the limit to at most 1232', () => {
  const received = readQuery(query('many.example.com', 'A'));
  const answers = Array.from({ length: 30 }, (_, i) => ({ type: 'A' as const, address: `192.0.2.${i + 1}`, ttl: 60 }));
  const truncated = dnsPacket.decode(encodeReply(received, { rcode: 'NOERROR', answers }, udpLimit(received)));
  assert.equal(truncated.flag_tc, true);
  assert.deepEqual(truncated.answers, []);
  const overTcp = dnsPacket.decode(encodeReply(received, { rcode: 'NOERROR', answers }, 65_535));
  assert.equal(overTcp.answers?.length, 30);
  const edns = readQuery(query('many.example.com', 'A', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as dnsPacket.Answer] }));
  assert.equal(udpLimit(edns), 1232);
  const withOpt = dnsPacket.decode(encodeReply(edns, { rcode: 'NOERROR', answers }, udpLimit(edns)));
  assert.equal(withOpt.flag_tc, false);
  assert.equal(withOpt.answers?.length, 30);
  assert.ok(withOpt.additionals?.some((r) => r.type === 'OPT'));
});

test('encodeReply writes HTTPS records as type 65 with the stripped RDATA', () => {
  const received = readQuery(query('example.com', 'UNKNOWN_65'));
  const rdata = new Uint8Array([0, 1, 0, 0, 1, 0, 3, 2, 0x68, 0x32]);
  const decoded = dnsPacket.decode(encodeReply(received, { rcode: 'NOERROR', answers: [{ type: 'HTTPS', rdata, ttl: 30 }] }, 512));
  const [answer] = decoded.answers ?? [];
  assert.equal(answer?.type as string, 'UNKNOWN_65');
  assert.deepEqual([...((answer as { data: Buffer }).data)], [...rdata]);
});

const SVCB_CASES: ReadonlyArray<[string, number[], string | undefined]> = [
  ['keeps alpn and port, drops ech and both hints', [0, 1, 0, 0, 1, 0, 3, 2, 0x68, 0x32, 0, 3, 0, 2, 1, 0xbb, 0, 4, 0, 4, 192, 0, 2, 1, 0, 5, 0, 2, 0xaa, 0xbb, 0, 6, 0, 16, ...new Array<number>(16).fill(1)],
    '1 . alpn=h2 port=443'],
  ['keeps an alias record as it is', [0, 0, 3, 0x63, 0x64, 0x6e, 4, 0x74, 0x65, 0x73, 0x74, 0], '0 cdn.test.'],
  ['drops a record that makes ech mandatory', [0, 1, 0, 0, 0, 0, 2, 0, 5, 0, 5, 0, 1, 0xaa], undefined],
  ['drops a record with keys out of order', [0, 1, 0, 0, 3, 0, 2, 1, 0xbb, 0, 1, 0, 3, 2, 0x68, 0x32], undefined],
  ['drops a record that runs past its end', [0, 1, 0, 0, 1, 0, 9, 2], undefined],
  ['drops a compressed target name', [0, 1, 0xc0, 12], undefined],
];

for (const [title, bytes, expected] of SVCB_CASES) {
  test(`stripServiceBinding ${title}`, () => {
    const stripped = stripServiceBinding(new Uint8Array(bytes));
    assert.equal(stripped === undefined ? undefined : describeServiceBinding(stripped), expected);
  });
}
