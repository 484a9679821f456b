// @peculiar/x509 needs the Reflect metadata API loaded first (see certificate-authority.ts).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, id_ce_nameConstraints } from '@peculiar/asn1-x509';
import ipaddr from 'ipaddr.js';
import type { ProxyConfig } from '../config/schema.js';
import { parseHostPattern } from '../policy/host-pattern.js';
import { caError } from './ca-signer.js';

export { id_ce_nameConstraints };

/** Permitted subtrees for the hosts rules name: a name (or *.name) permits it and its subdomains. */
export const nameConstraintsExtension = (entries: readonly string[]): x509.Extension => {
  const names = new Set<string>();
  const addresses = new Set<string>();
  for (const entry of entries) {
    const parsed = parseHostPattern(entry);
    if (!parsed.ok) throw caError(`name constraint ${JSON.stringify(entry)}: ${parsed.error}`);
    const pattern = parsed.value;
    if (pattern.kind === 'exact') names.add(pattern.name);
    else if (pattern.kind === 'subdomains') names.add(pattern.suffix);
    else if (pattern.kind === 'ip') {
      const address = ipaddr.parse(pattern.address);
      addresses.add(`${address.toNormalizedString()}/${address.kind() === 'ipv6' ? 128 : 32}`);
    } else {
      const [address, bits] = pattern.range;
      const network = address.kind() === 'ipv6'
        ? ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`)
        : ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`);
      addresses.add(`${network.toNormalizedString()}/${bits}`);
    }
  }
  // A subtree already covered by a shorter one adds nothing ("a.example.com" under "example.com").
  const dns = [...names].filter((name) => ![...names].some((other) => other !== name && name.endsWith(`.${other}`))).sort();
  // Without any entry of a type, that type would be unconstrained: permit only what cannot occur.
  if (dns.length === 0) dns.push('invalid');
  const ips = addresses.size > 0 ? [...addresses].sort() : ['0.0.0.0/32', '::/128'];
  const subtrees = [
    ...dns.map((dNSName) => new GeneralSubtree({ base: new GeneralName({ dNSName }) })),
    ...ips.map((iPAddress) => new GeneralSubtree({ base: new GeneralName({ iPAddress }) })),
  ];
  const value = AsnConvert.serialize(new NameConstraints({ permittedSubtrees: new GeneralSubtrees(subtrees) }));
  return new x509.Extension(id_ce_nameConstraints, true, value);
};

/** Every host entry of every rule: what a generated CA with name_constraints may issue for. */
export const nameConstraintsFromRules = (rules: ProxyConfig['rules']): string[] => [...new Set(rules.flatMap((rule) => rule.hosts))];
