import { lookup as dnsLookup } from 'node:dns/promises';
import type { CanonicalHost } from '../flow/host.js';
import { PortcullisError } from '../errors.js';

/** Turns a canonical host into the addresses to dial. IP literals resolve to themselves. */
export interface Resolver {
  resolve(host: CanonicalHost): Promise<string[]>;
}

export type LookupAll = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: LookupAll = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Pinned names (the config's `resolve:` map, like curl --resolve) win over DNS.
 * DNS errors become PCL_ERR_DNS_FAILED with the resolver's code in the message.
 */
export const createResolver = (
  pins: Readonly<Record<string, string | readonly string[]>>,
  lookup: LookupAll = systemLookup,
): Resolver => {
  const pinned = new Map<string, string[]>();
  for (const [name, value] of Object.entries(pins)) {
    const key = name.toLowerCase().replace(/\.$/, '');
    pinned.set(key, Array.isArray(value) ? [...value] : [value as string]);
  }
  return {
    async resolve(host) {
      if (host.kind === 'ip') return [host.host];
      const pin = pinned.get(host.host);
      if (pin) return pin;
      try {
        const answers = await lookup(host.host);
        if (answers.length === 0) throw new PortcullisError('PCL_ERR_DNS_FAILED', `no addresses for ${host.host}`);
        return answers.map((a) => a.address);
      } catch (error) {
        if (error instanceof PortcullisError) throw error;
        const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
        throw new PortcullisError('PCL_ERR_DNS_FAILED', `DNS lookup of ${host.host} failed (${code})`, { cause: error });
      }
    },
  };
};
