import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { getServers } from 'node:dns';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import ipaddr from 'ipaddr.js';
import { PortcullisError } from '../errors.js';
import type { DnsRcode, ServiceRecordSource, ServiceRecords } from '../pipeline/dns-answers.js';
import { HTTPS_TYPE, SVCB_TYPE } from '../pipeline/service-binding.js';
import { joinListenAddress } from './listen-address.js';

/**
 * Asks upstream name servers for HTTPS/SVCB records, which the system lookup (getaddrinfo)
 * cannot fetch: `dns.upstream` from the config, else the system's servers (/etc/resolv.conf).
 * One UDP query per server in turn, each with a random id and a time limit.
 */

const QUERY_TIMEOUT_MS = 2000;
const KNOWN_RCODES = new Set<string>(['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED']);

/** "ip", "ip:port", "[v6]:port" or a bare IPv6 address, as getServers() and the config write them. */
export const parseServer = (text: string): { host: string; port: number } => {
  if (net.isIP(text) !== 0) return { host: text, port: 53 };
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1] as string, port: Number(bracketed[2] ?? 53) };
  const colon = text.lastIndexOf(':');
  return colon > 0 ? { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) } : { host: text, port: 53 };
};

const sameAddress = (a: string, b: string): boolean =>
  ipaddr.isValid(a) && ipaddr.isValid(b) && ipaddr.process(a).toNormalizedString() === ipaddr.process(b).toNormalizedString();

const askOne = (server: { host: string; port: number }, query: Buffer, id: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const done = (error: Error | undefined, answer?: Buffer): void => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(answer as Buffer);
    };
    const timer = setTimeout(() => done(new Error(`no answer from ${joinListenAddress(server.host, server.port)} within ${QUERY_TIMEOUT_MS} ms`)), QUERY_TIMEOUT_MS);
    socket.on('error', (error) => done(error));
    socket.on('message', (message, from) => {
      // Only the server asked, with our id: anything else is ignored (spoofed or stray).
      if (from.port !== server.port || !sameAddress(from.address, server.host) || message.length < 2 || message.readUInt16BE(0) !== id) return;
      done(undefined, message);
    });
    socket.send(query, server.port, server.host, (error) => {
      if (error) done(error);
    });
  });

/** `servers()` is read at each query, so a reload that changes dns.upstream takes effect at once. */
export const createServiceRecordSource = (servers: () => readonly string[] | undefined): ServiceRecordSource => async (name, type) => {
  const list = servers() ?? getServers();
  if (list.length === 0) throw new PortcullisError('PCL_ERR_DNS_FAILED', 'no name server to ask for HTTPS/SVCB records (set dns.upstream)');
  const wire = `UNKNOWN_${type === 'HTTPS' ? HTTPS_TYPE : SVCB_TYPE}`;
  const problems: string[] = [];
  for (const text of list) {
    const server = parseServer(text);
    const id = randomInt(0, 65536);
    const query = dnsPacket.encode({
      type: 'query', id, flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: wire as dnsPacket.RecordType, name, class: 'IN' }],
    });
    try {
      const response = dnsPacket.decode(await askOne(server, query, id));
      const rcode = (response as { rcode?: string }).rcode ?? 'SERVFAIL';
      const records = (response.answers ?? [])
        .filter((answer) => (answer.type as string) === wire && Buffer.isBuffer((answer as { data?: unknown }).data))
        .map((answer) => ({ rdata: (answer as { data: Buffer }).data, ttl: (answer as { ttl?: number }).ttl ?? 0 }));
      const result: ServiceRecords = { rcode: (KNOWN_RCODES.has(rcode) ? rcode : 'SERVFAIL') as DnsRcode, records, server: joinListenAddress(server.host, server.port) };
      return result;
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  throw new PortcullisError('PCL_ERR_DNS_FAILED', `HTTPS/SVCB lookup of ${name} failed: ${problems.join('; ')}`);
};
