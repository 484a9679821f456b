import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { DurationSchema } from './duration-schema.js';

/**
 * The `dns:` section: how the DNS listener (`listen: [{ address: ..., mode: dns }]`) answers,
 * and the exfiltration guard on names the policy allows (docs/configuration.md, docs/side-channels.md).
 */

const RATE = /^(\d+)\s*\/\s*(\d*)\s*(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A budget per window: `count` units every `perMs` milliseconds (a token bucket holding `count`). */
export interface Rate {
  readonly count: number;
  readonly perMs: number;
}

/** A rate as the config writes it: "50/s", "1000/10m". */
export const formatRate = (rate: Rate): string => {
  for (const [unit, ms] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (rate.perMs % ms === 0) return `${rate.count}/${rate.perMs === ms ? '' : rate.perMs / ms}${unit}`;
  }
  return `${rate.count}/${rate.perMs}ms`;
};

/** "20/s", "1000/10m": a count over a window. */
export const RateSchema = z.string().transform((value, ctx): Rate => {
  const match = RATE.exec(value.trim());
  const count = Number(match?.[1]);
  const perMs = Number(match?.[2] || '1') * (UNIT_MS[match?.[3] ?? ''] ?? Number.NaN);
  if (!match || !(count >= 1) || !(perMs >= 1)) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a rate; write a count per window, e.g. 20/s, 1000/10m` });
    return z.NEVER;
  }
  return { count, perMs };
});

/** "ip" (port 53) or "ip:port" / "[v6]:port". */
const ServerSchema = z.string().refine((value) => {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value);
  const plain = /^([^:]+)(?::(\d{1,5}))?$/.exec(value);
  const host = bracketed?.[1] ?? plain?.[1] ?? (ipaddr.IPv6.isValid(value) ? value : undefined);
  const port = Number(bracketed?.[2] ?? plain?.[2] ?? 53);
  return host !== undefined && ipaddr.isValid(host) && port >= 1 && port <= 65535;
}, { message: 'must be an IP address, optionally with a port: 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53' });

const ExfiltrationSchema = z.strictObject({
  /** Longest label (characters between dots) of an allowed name; DNS allows 63. */
  max_label_length: z.number().int().min(1).max(63).default(48),
  /** Longest whole name; DNS allows 253. */
  max_name_length: z.number().int().min(1).max(253).default(120),
  /** Shannon entropy (bits per character) of the labels left of the registrable domain, when they hold 32 characters or more. */
  max_entropy: z.number().min(1).max(8).default(4.5),
  /** Queries for allowed names, per client (a bucket that holds the count). */
  rate: RateSchema.default({ count: 50, perMs: 1000 }),
  /** Characters of names the client has not asked for lately, left of the registrable domain, per client. */
  new_name_budget: RateSchema.default({ count: 1000, perMs: 600_000 }),
});

export const DNS_DEFAULTS = {
  answer_ttl: 60_000,
  refuse_with: 'nxdomain' as const,
  https_records: 'strip-ech' as const,
  max_tcp_connections: 256,
  exfiltration: {
    max_label_length: 48, max_name_length: 120, max_entropy: 4.5,
    rate: { count: 50, perMs: 1000 }, new_name_budget: { count: 1000, perMs: 600_000 },
  },
};

export const DnsConfigSchema = z.strictObject({
  /** TTL of every answer, at most (the system lookup reports none: A/AAAA answers carry exactly this). */
  answer_ttl: DurationSchema.refine((ms) => ms <= 86_400_000, { message: 'at most 1 day (24h)' }).default(DNS_DEFAULTS.answer_ttl),
  /** The answer to a name no rule could allow (and to every refused query). */
  refuse_with: z.enum(['nxdomain', 'refused']).default(DNS_DEFAULTS.refuse_with),
  /** HTTPS/SVCB questions for allowed names: answered without ech (and address hints), or refused. */
  https_records: z.enum(['strip-ech', 'refuse']).default(DNS_DEFAULTS.https_records),
  /** Name servers asked for HTTPS/SVCB records; default: the system's (/etc/resolv.conf). A/AAAA come from the proxy's resolver. */
  upstream: z.array(ServerSchema).min(1).optional(),
  /** Open TCP connections per DNS listener; beyond, new ones are closed at once. */
  max_tcp_connections: z.number().int().min(1).max(100_000).default(DNS_DEFAULTS.max_tcp_connections),
  exfiltration: ExfiltrationSchema.default(DNS_DEFAULTS.exfiltration),
});

export type DnsConfig = z.infer<typeof DnsConfigSchema>;
