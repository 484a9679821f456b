import type { CanonicalHost } from '../flow/host.js';
import { isPortcullisError } from '../errors.js';
import type { ProxyState } from '../proxy-state.js';
import { describeServiceBinding, stripServiceBinding } from './service-binding.js';

/** The response codes the DNS listener sends. */
export type DnsRcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED';

export type DnsAnswer =
  | { readonly type: 'A' | 'AAAA'; readonly address: string; readonly ttl: number }
  | { readonly type: 'HTTPS' | 'SVCB'; readonly rdata: Uint8Array; readonly ttl: number };

export interface DnsReply {
  readonly rcode: DnsRcode;
  readonly answers: readonly DnsAnswer[];
}

/** Raw HTTPS/SVCB records for a name, as an upstream name server answered them. */
export interface ServiceRecords {
  readonly rcode: DnsRcode;
  readonly records: ReadonlyArray<{ readonly rdata: Uint8Array; readonly ttl: number }>;
  /** "ip:port" of the server that answered. */
  readonly server: string;
}

/** Asks upstream name servers for HTTPS or SVCB records (the I/O is the listener's; tests fake it). */
export type ServiceRecordSource = (name: string, type: 'HTTPS' | 'SVCB') => Promise<ServiceRecords>;

/** What answering found: the reply, and what the flow should note (a blocked address, a failure). */
export interface Answered {
  readonly reply: DnsReply;
  readonly blocked?: string;
  readonly failure?: { readonly code: string; readonly message: string };
  readonly server?: string;
}

const ttlSeconds = (state: ProxyState): number => Math.floor(state.config.dns.answer_ttl / 1000);

const causeCode = (error: unknown): string | undefined => {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
};

/**
 * A and AAAA from the proxy's own resolver (`resolve:` pins, then the system lookup), so a
 * client learns the addresses the proxy would dial, and only those the address guard lets
 * through. A name that does not exist is NXDOMAIN; a family with no (usable) address is an
 * empty NOERROR, never NXDOMAIN, which would deny the other family too.
 */
export const answerAddresses = async (state: ProxyState, name: CanonicalHost, type: 'A' | 'AAAA'): Promise<Answered> => {
  let resolved: string[];
  try {
    resolved = await state.resolver.resolve(name);
  } catch (error) {
    const code = causeCode(error);
    if (code === 'ENOTFOUND') return { reply: { rcode: 'NXDOMAIN', answers: [] } };
    if (code === 'ENODATA' || (isPortcullisError(error) && code === undefined)) return { reply: { rcode: 'NOERROR', answers: [] } };
    const failure = isPortcullisError(error) ? { code: error.code, message: error.message } : { code: 'PCL_ERR_DNS_FAILED', message: String(error) };
    return { reply: { rcode: 'SERVFAIL', answers: [] }, failure };
  }
  const family = resolved.filter((address) => (type === 'A' ? !address.includes(':') : address.includes(':')));
  const usable = family.filter((address) => state.addressGuard.check(address).allowed);
  const ttl = ttlSeconds(state);
  const reply: DnsReply = { rcode: 'NOERROR', answers: usable.map((address) => ({ type, address, ttl })) };
  if (usable.length === 0 && family.length > 0) {
    const ranges = family.map((address) => {
      const check = state.addressGuard.check(address);
      return check.allowed ? address : `${address} (${check.range})`;
    });
    return { reply, blocked: `${name.host} resolves only to blocked addresses: ${ranges.join(', ')}; list the range in destinations.allow_ranges to allow it` };
  }
  return { reply };
};

/** HTTPS/SVCB from the upstream servers, each without ech and address hints, TTL capped; a pinned name has none. */
export const answerServiceBindings = async (
  state: ProxyState, name: CanonicalHost, type: 'HTTPS' | 'SVCB', source: ServiceRecordSource,
): Promise<Answered & { readonly described: readonly string[] }> => {
  if (Object.hasOwn(state.config.resolve, name.host)) return { reply: { rcode: 'NOERROR', answers: [] }, described: [] };
  let upstream: ServiceRecords;
  try {
    upstream = await source(name.host, type);
  } catch (error) {
    const failure = isPortcullisError(error) ? { code: error.code, message: error.message } : { code: 'PCL_ERR_DNS_FAILED', message: String(error) };
    return { reply: { rcode: 'SERVFAIL', answers: [] }, failure, described: [] };
  }
  if (upstream.rcode !== 'NOERROR') return { reply: { rcode: upstream.rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'SERVFAIL', answers: [] }, server: upstream.server, described: [] };
  const cap = ttlSeconds(state);
  const answers: DnsAnswer[] = [];
  for (const record of upstream.records) {
    const rdata = stripServiceBinding(record.rdata);
    if (rdata !== undefined) answers.push({ type, rdata, ttl: Math.min(record.ttl, cap) });
  }
  return { reply: { rcode: 'NOERROR', answers }, server: upstream.server, described: answers.map((a) => (a.type === type && 'rdata' in a ? describeServiceBinding(a.rdata) : '-')) };
};
