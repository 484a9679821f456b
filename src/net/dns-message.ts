import dnsPacket from 'dns-packet';
import type { DnsAnswer, DnsRcode, DnsReply } from '../pipeline/dns-answers.js';
import type { DnsQuery } from '../pipeline/dns-pipeline.js';
import { HTTPS_TYPE, SVCB_TYPE } from '../pipeline/service-binding.js';

/**
 * DNS messages on the wire, through dns-packet: a query decoded into what the DNS pipeline asks
 * about, and a reply encoded to fit the transport. Malformed input never throws out of here.
 */

/** What the reply needs from the query it answers. */
export interface ReceivedQuery {
  readonly query: DnsQuery;
  readonly id: number;
  readonly recursionDesired: boolean;
  /** The question as received (its name's case is echoed back: resolvers randomize it). */
  readonly question?: { readonly name: string; readonly type: string; readonly class: string };
  /** The client's EDNS UDP payload size, when it sent an OPT record. */
  readonly ednsSize?: number;
}

const HEADER_BYTES = 12;
const QR_BIT = 0x8000;
/** What we answer over UDP with EDNS at most (the DNS Flag Day 2020 size: no IP fragmentation). */
export const EDNS_UDP_SIZE = 1232;
/** Without EDNS, a UDP reply holds at most 512 bytes (RFC 1035); more sets TC and the client retries over TCP. */
export const PLAIN_UDP_SIZE = 512;

const RCODES: Record<DnsRcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

/** dns-packet names types it does not know "UNKNOWN_<n>"; HTTPS (65) and SVCB (64) are among them. */
const typeName = (type: string): string => {
  if (type === `UNKNOWN_${HTTPS_TYPE}`) return 'HTTPS';
  if (type === `UNKNOWN_${SVCB_TYPE}`) return 'SVCB';
  return type.startsWith('UNKNOWN_') ? `TYPE${type.slice(8)}` : type;
};

const wireType = (type: DnsAnswer['type']): string => (type === 'HTTPS' ? `UNKNOWN_${HTTPS_TYPE}` : type === 'SVCB' ? `UNKNOWN_${SVCB_TYPE}` : type);

const malformed = (id: number, detail: string, respond = true, rcode: 'FORMERR' | 'NOTIMP' = 'FORMERR'): ReceivedQuery =>
  ({ id, recursionDesired: false, query: { ok: false, rcode, detail, respond } });

/** Decodes one message a client sent; anything but a single IN question becomes FORMERR or NOTIMP. */
export const readQuery = (message: Buffer): ReceivedQuery => {
  if (message.length < HEADER_BYTES) return malformed(0, `${message.length} bytes, shorter than a DNS header`, false);
  const id = message.readUInt16BE(0);
  if ((message.readUInt16BE(2) & QR_BIT) !== 0) return malformed(id, 'a DNS response, not a query', false);
  let packet: ReturnType<typeof dnsPacket.decode>;
  try {
    packet = dnsPacket.decode(message);
  } catch (error) {
    return malformed(id, `malformed DNS message: ${(error as Error).message}`);
  }
  const opcode = (packet as { opcode?: string }).opcode;
  if (opcode !== 'QUERY') return malformed(id, `opcode ${opcode ?? '?'} is not served, only QUERY`, true, 'NOTIMP');
  const questions = packet.questions ?? [];
  const first = questions[0];
  if (questions.length !== 1 || first === undefined) return malformed(id, `${questions.length} questions; a query holds exactly one`);
  const opt = (packet.additionals ?? []).find((record) => record.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  const base = {
    id, recursionDesired: packet.flag_rd,
    question: { name: first.name, type: first.type as string, class: first.class ?? 'IN' },
    ...(opt?.udpPayloadSize !== undefined ? { ednsSize: opt.udpPayloadSize } : {}),
  };
  if ((first.class ?? 'IN') !== 'IN') return { ...base, query: { ok: false, rcode: 'NOTIMP', detail: `class ${first.class} is not served, only IN`, respond: true } };
  return { ...base, query: { ok: true, name: first.name, type: typeName(first.type as string) } };
};

const encodeAnswer = (name: string, answer: DnsAnswer): dnsPacket.Answer => ('address' in answer
  ? { type: answer.type, name, ttl: answer.ttl, class: 'IN', data: answer.address }
  : { type: wireType(answer.type), name, ttl: answer.ttl, class: 'IN', data: Buffer.from(answer.rdata) }) as dnsPacket.Answer;

/**
 * The reply to `received`, at most `maxBytes` long: with the question echoed, RA set, RD copied,
 * an OPT record when the query had one. A reply that does not fit is sent empty with TC set, so
 * the client asks again over TCP.
 */
export const encodeReply = (received: ReceivedQuery, reply: DnsReply, maxBytes: number): Buffer => {
  const flags = (received.recursionDesired ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE | RCODES[reply.rcode];
  const question = received.question;
  const packet: dnsPacket.Packet = {
    type: 'response', id: received.id, flags,
    questions: question ? [{ name: question.name, type: question.type as dnsPacket.RecordType, class: question.class as dnsPacket.RecordClass }] : [],
    answers: question ? reply.answers.map((answer) => encodeAnswer(question.name, answer)) : [],
    additionals: received.ednsSize !== undefined
      ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [],
  };
  const encoded = dnsPacket.encode(packet);
  if (encoded.length <= maxBytes) return encoded;
  return dnsPacket.encode({ ...packet, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
};

/** The largest UDP reply this query may get. */
export const udpLimit = (received: ReceivedQuery): number =>
  (received.ednsSize === undefined ? PLAIN_UDP_SIZE : Math.max(PLAIN_UDP_SIZE, Math.min(received.ednsSize, EDNS_UDP_SIZE)));
