import type { CanonicalHost } from '../flow/host.js';

/**
 * DNS over HTTPS: a resolver reached through the proxy answers any name, so a client could
 * look up (and, through it, reach) what the policy and the DNS listener refuse. Well-known
 * public DoH endpoints, and requests that carry DNS messages, are refused (`doh-blocked`)
 * unless a rule names the host exactly: a wildcard (`*.example.com`) or a CIDR never opens them.
 * docs/side-channels.md lists them; the list is data, matched by the policy engine.
 */

/** Names that are DoH (or DoT) endpoints, each with every name below it. */
export const DOH_DOMAINS: readonly string[] = Object.freeze([
  'dns.google', // Google Public DNS (dns.google, dns64.dns.google)
  'cloudflare-dns.com', // Cloudflare (mozilla., chrome., security., family., 1dot1dot1dot1.)
  'one.one.one.one', // Cloudflare
  'dns.quad9.net', 'dns9.quad9.net', 'dns10.quad9.net', 'dns11.quad9.net', 'dns12.quad9.net', // Quad9
  'doh.opendns.com', 'doh.familyshield.opendns.com', 'doh.umbrella.com', 'dns.umbrella.com', // Cisco OpenDNS / Umbrella
  'dns.adguard.com', 'adguard-dns.com', 'dns.adguard-dns.com', // AdGuard
  'dns.nextdns.io', // NextDNS
  'doh.cleanbrowsing.org', // CleanBrowsing
  'dns.mullvad.net', // Mullvad (and adblock.dns.mullvad.net, ...)
  'doh.dns.sb', // DNS.SB
  'dns.alidns.com', // AliDNS
  'doh.pub', // DNSPod
  'dns.controld.com', 'freedns.controld.com', // Control D
  'ordns.he.net', // Hurricane Electric
  'dns0.eu', // DNS0.EU
  'dns.switch.ch', // SWITCH
]);

/** Addresses of public resolvers that answer DoH (https://1.1.1.1/dns-query) and DoT (port 853) by IP. */
export const DOH_ADDRESSES: readonly string[] = Object.freeze([
  '1.1.1.1', '1.0.0.1', '1.1.1.2', '1.0.0.2', '1.1.1.3', '1.0.0.3', '2606:4700:4700::1111', '2606:4700:4700::1001',
  '8.8.8.8', '8.8.4.4', '2001:4860:4860::8888', '2001:4860:4860::8844',
  '9.9.9.9', '149.112.112.112', '9.9.9.10', '9.9.9.11', '2620:fe::fe', '2620:fe::9',
  '208.67.222.222', '208.67.220.220', '94.140.14.14', '94.140.15.15',
]);

const DOMAINS = new Set(DOH_DOMAINS);
const ADDRESSES = new Set(DOH_ADDRESSES);

/** True when the host is a well-known DoH/DoT endpoint: one of the names (or below one), or one of the addresses. */
export const isDohHost = (host: CanonicalHost): boolean => {
  if (host.kind === 'ip') return ADDRESSES.has(host.host);
  if (DOMAINS.has(host.host)) return true;
  for (let dot = host.host.indexOf('.'); dot >= 0; dot = host.host.indexOf('.', dot + 1)) {
    if (DOMAINS.has(host.host.slice(dot + 1))) return true;
  }
  return false;
};

/** The media types of RFC 8484 (wire format) and of the JSON API Google and Cloudflare serve. */
const DNS_MEDIA_TYPES = ['application/dns-message', 'application/dns-json', 'application/dns-udpwireformat'];

const mediaTypeIn = (value: string): string | undefined => {
  const lower = value.toLowerCase();
  return DNS_MEDIA_TYPES.find((type) => lower.includes(type));
};

/**
 * Why a request looks like DNS over HTTPS, or undefined: a DNS media type in Content-Type or
 * Accept, or the RFC 8484 GET form (`?dns=` with a base64url DNS message, on any path).
 * `rawHeaders` is Node's flat [name, value, ...] list.
 */
export const dohRequestEvidence = (pathAndQuery: string, rawHeaders: readonly string[]): string | undefined => {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (name !== 'content-type' && name !== 'accept') continue;
    const type = mediaTypeIn(rawHeaders[i + 1] as string);
    if (type !== undefined) return `${name === 'accept' ? 'Accept' : 'Content-Type'} ${type}`;
  }
  const query = pathAndQuery.indexOf('?');
  if (query >= 0 && /(?:^|&)dns=[A-Za-z0-9_-]{16,}/.test(pathAndQuery.slice(query + 1))) return 'a DNS message in ?dns= (RFC 8484 GET)';
  return undefined;
};
