import { parse } from 'tldts';

/**
 * Which hosts serve many tenants, from two sources:
 * - the Public Suffix List (through the tldts package, private section included): a host that
 *   is itself a public suffix (s3.amazonaws.com, s3.eu-west-1.amazonaws.com, blob.core.windows.net)
 *   is shared by everyone below it, and a wildcard may never reach up to a public suffix
 *   (`*.googleapis.com`, `*.githubusercontent.com`, `*.s3.amazonaws.com`);
 * - services whose tenants are told apart by the path, not the host name, which no list of
 *   suffixes can say: below, with where the tenant sits in the path.
 * An operator adds hosts of their own with `--multi-tenant` (learn, check --lint).
 */

/** Path templates per service: "*" is the segment that names the tenant (bucket, owner, repository). */
const PATH_TENANTS: Readonly<Record<string, readonly (readonly string[])[]>> = Object.freeze({
  // Cloud Storage: JSON API (also on www.googleapis.com), XML API path-style, authenticated browser downloads.
  'storage.googleapis.com': [['storage', 'v1', 'b', '*'], ['download', 'storage', 'v1', 'b', '*'], ['upload', 'storage', 'v1', 'b', '*'], ['batch', 'storage', 'v1', 'b', '*'], ['*']],
  'www.googleapis.com': [['storage', 'v1', 'b', '*'], ['download', 'storage', 'v1', 'b', '*'], ['upload', 'storage', 'v1', 'b', '*'], ['batch', 'storage', 'v1', 'b', '*'], ['*']],
  'storage.cloud.google.com': [['*']],
  // S3 path-style (the regional endpoints are public suffixes, found through the PSL).
  's3.amazonaws.com': [['*']],
  // Code hosting: /OWNER/REPO.
  'github.com': [['*', '*']],
  'raw.githubusercontent.com': [['*', '*']],
  'gist.githubusercontent.com': [['*', '*']],
  'codeload.github.com': [['*', '*']],
  'objects.githubusercontent.com': [['*', '*']],
  'api.github.com': [['repos', '*', '*'], ['users', '*'], ['orgs', '*'], ['*']],
  'gitlab.com': [['*', '*']],
  'bitbucket.org': [['*', '*']],
  // Container registries: /v2/NAMESPACE/IMAGE.
  'registry-1.docker.io': [['v2', '*', '*'], ['*']],
  'ghcr.io': [['v2', '*', '*'], ['*']],
  'quay.io': [['v2', '*', '*'], ['*']],
  // Paste sites: every path is someone else's.
  'pastebin.com': [['*']],
  'gist.github.com': [['*', '*']],
});

export interface Tenancy {
  /** Why `host` serves many tenants (so a rule for it should restrict paths), or undefined. */
  multiTenant(host: string): string | undefined;
  /** How many leading path segments name the tenant on a multi-tenant host (at least 1). */
  tenantDepth(host: string, segments: readonly string[]): number;
  /** The registrable domain (eTLD+1) siblings share, or undefined for an IP, a public suffix or a bare name. */
  registrableDomain(host: string): string | undefined;
  /**
   * Why `*.suffix` would reach across tenants, or undefined when it stays within one owner.
   * `seen` are other host names known to be in use (from logs), checked for public suffixes below `suffix`.
   */
  wildcardTooBroad(suffix: string, seen?: Iterable<string>): string | undefined;
}

const PSL = { allowPrivateDomains: true } as const;

/** A PSL entry: the host is a public suffix itself (or under a wildcard entry such as *.compute.amazonaws.com). */
const isPublicSuffix = (host: string): boolean => {
  const parsed = parse(host, PSL);
  return parsed.isIp !== true && parsed.domain === null && parsed.publicSuffix === host;
};

export const createTenancy = (extraHosts: readonly string[] = []): Tenancy => {
  const extra = new Set(extraHosts.map((host) => host.toLowerCase().replace(/\.$/, '')));
  const multiTenant = (host: string): string | undefined => {
    if (extra.has(host)) return 'named with --multi-tenant';
    if (PATH_TENANTS[host] !== undefined) return 'a service shared by many tenants, told apart by the path';
    if (isPublicSuffix(host)) return 'a public suffix (Public Suffix List): shared by many tenants';
    return undefined;
  };
  const tenantDepth = (host: string, segments: readonly string[]): number => {
    for (const template of PATH_TENANTS[host] ?? []) {
      if (template.length > segments.length) continue;
      if (template.every((part, i) => part === '*' || part === segments[i])) return template.length;
    }
    return 1;
  };
  const registrableDomain = (host: string): string | undefined => {
    const parsed = parse(host, PSL);
    if (parsed.isIp === true || parsed.domain === null || parsed.domain === undefined || !parsed.domain.includes('.')) return undefined;
    return parsed.domain;
  };
  const wildcardTooBroad = (suffix: string, seen: Iterable<string> = []): string | undefined => {
    if (isPublicSuffix(suffix)) return `${suffix} is a public suffix (Public Suffix List): its subdomains belong to different owners`;
    const probe = parse(`x.${suffix}`, PSL);
    if (probe.publicSuffix !== null && probe.publicSuffix !== undefined && probe.publicSuffix.endsWith(suffix)) {
      return `names under ${suffix} are public suffixes (Public Suffix List): its subdomains belong to different owners`;
    }
    if (registrableDomain(suffix) === undefined) return `${suffix} is not a registrable domain`;
    const tail = `.${suffix}`;
    const candidates = [...Object.keys(PATH_TENANTS), ...extra, ...seen];
    for (const host of candidates) {
      if (!host.endsWith(tail)) continue;
      if (multiTenant(host) !== undefined) return `it covers ${host}, which serves many tenants`;
      const inner = parse(host, PSL).publicSuffix;
      if (inner !== null && inner !== undefined && inner.endsWith(tail)) return `it covers ${inner}, a public suffix (Public Suffix List) below ${suffix}`;
    }
    return undefined;
  };
  return Object.freeze({ multiTenant, tenantDepth, registrableDomain, wildcardTooBroad });
};
