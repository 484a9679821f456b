/**
 * HTTPS and SVCB records (RFC 9460) as the DNS listener passes them on: without `ech` (so a
 * client keeps a readable SNI the tunnel pipeline can check) and without `ipv4hint`/`ipv6hint`
 * (so the only addresses a client learns are the A/AAAA answers, from the proxy's resolver and
 * its `resolve:` pins). dns-packet carries these types as raw RDATA; this reads and rewrites it.
 */

export const SVCB_TYPE = 64;
export const HTTPS_TYPE = 65;

const KEY_MANDATORY = 0;
const KEY_ALPN = 1;
const KEY_PORT = 3;
/** Removed before a record is passed on: ipv4hint (4), ech (5), ipv6hint (6). */
const REMOVED_KEYS = new Set([4, 5, 6]);
const KEY_NAMES: Record<number, string> = { 0: 'mandatory', 1: 'alpn', 2: 'no-default-alpn', 3: 'port', 4: 'ipv4hint', 5: 'ech', 6: 'ipv6hint' };

interface SvcParam {
  readonly key: number;
  readonly value: Uint8Array;
}

interface ServiceBinding {
  readonly priority: number;
  /** The target name in wire form (uncompressed, as RFC 9460 requires). */
  readonly target: Uint8Array;
  readonly targetText: string;
  readonly params: readonly SvcParam[];
}

const u16 = (bytes: Uint8Array, at: number): number => ((bytes[at] as number) << 8) | (bytes[at + 1] as number);

/** Reads RDATA; undefined when it is malformed (a record we cannot read is not passed on). */
const parse = (rdata: Uint8Array): ServiceBinding | undefined => {
  if (rdata.length < 3) return undefined;
  const priority = u16(rdata, 0);
  let at = 2;
  const labels: string[] = [];
  for (;;) {
    const length = rdata[at];
    if (length === undefined || length > 63) return undefined;
    at += 1;
    if (length === 0) break;
    if (at + length > rdata.length) return undefined;
    labels.push(String.fromCharCode(...rdata.subarray(at, at + length)));
    at += length;
  }
  const target = rdata.subarray(2, at);
  const params: SvcParam[] = [];
  let previous = -1;
  while (at < rdata.length) {
    if (at + 4 > rdata.length) return undefined;
    const key = u16(rdata, at);
    const length = u16(rdata, at + 2);
    if (key <= previous || at + 4 + length > rdata.length) return undefined; // keys must ascend (RFC 9460 2.2)
    params.push({ key, value: rdata.subarray(at + 4, at + 4 + length) });
    previous = key;
    at += 4 + length;
  }
  return { priority, target, targetText: labels.length === 0 ? '.' : `${labels.join('.')}.`, params };
};

const serialize = (binding: ServiceBinding): Uint8Array => {
  const size = 2 + binding.target.length + binding.params.reduce((sum, p) => sum + 4 + p.value.length, 0);
  const out = new Uint8Array(size);
  out[0] = binding.priority >> 8;
  out[1] = binding.priority & 0xff;
  out.set(binding.target, 2);
  let at = 2 + binding.target.length;
  for (const param of binding.params) {
    out[at] = param.key >> 8;
    out[at + 1] = param.key & 0xff;
    out[at + 2] = param.value.length >> 8;
    out[at + 3] = param.value.length & 0xff;
    out.set(param.value, at + 4);
    at += 4 + param.value.length;
  }
  return out;
};

const mandatoryKeys = (param: SvcParam | undefined): number[] => {
  if (param === undefined) return [];
  const keys: number[] = [];
  for (let i = 0; i + 1 < param.value.length; i += 2) keys.push(u16(param.value, i));
  return keys;
};

/**
 * The record without ech and address hints, or undefined when it cannot be passed on: malformed,
 * or one of the removed keys is `mandatory` (a client may not use the record without it).
 */
export const stripServiceBinding = (rdata: Uint8Array): Uint8Array | undefined => {
  const binding = parse(rdata);
  if (binding === undefined) return undefined;
  const mandatory = mandatoryKeys(binding.params.find((p) => p.key === KEY_MANDATORY));
  if (mandatory.some((key) => REMOVED_KEYS.has(key))) return undefined;
  return serialize({ ...binding, params: binding.params.filter((p) => !REMOVED_KEYS.has(p.key)) });
};

const describeParam = (param: SvcParam): string => {
  const name = KEY_NAMES[param.key] ?? `key${param.key}`;
  if (param.key === KEY_ALPN) {
    const ids: string[] = [];
    for (let at = 0; at < param.value.length;) {
      const length = param.value[at] as number;
      ids.push(String.fromCharCode(...param.value.subarray(at + 1, at + 1 + length)));
      at += 1 + length;
    }
    return `${name}=${ids.join(',')}`;
  }
  if (param.key === KEY_PORT && param.value.length === 2) return `${name}=${u16(param.value, 0)}`;
  if (param.value.length === 0) return name;
  return `${name}=${Buffer.from(param.value).toString('hex')}`;
};

/** Presentation form for the access log ("1 . alpn=h2,http/1.1"); "-" when unreadable. */
export const describeServiceBinding = (rdata: Uint8Array): string => {
  const binding = parse(rdata);
  if (binding === undefined) return '-';
  return [String(binding.priority), binding.targetText, ...binding.params.map(describeParam)].join(' ');
};
