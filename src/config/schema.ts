import ipaddr from 'ipaddr.js';
import { parseParentProxyUrl } from './parent-proxy-url.js';
import { HeaderRulesSchema, InjectSchema, RateSchema } from './request-controls-schema.js';
import { z } from 'zod';
import { DnsConfigSchema, DNS_DEFAULTS } from './dns-schema.js';
import { DurationSchema } from './duration-schema.js';
import { parseHostPattern, patternKey } from '../policy/host-pattern.js';
import { validateRulePath } from '../policy/path-normalizer.js';

/**
 * The config contract (see docs/configuration.md). Unknown keys are errors everywhere.
 * Semantic checks (host patterns, CIDRs, duplicates) run here too, so every problem is
 * reported with the path of its key and, through the loader, its file and line.
 */

export { DurationSchema } from './duration-schema.js';

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:\s\[\]]+):(\d{1,5})$/;

/** "host:port" or "[v6]:port", as a listener address. */
export const ListenAddressSchema = z.string().refine((value) => {
  const match = HOST_PORT.exec(value);
  return match !== null && Number(match[2]) <= 65535;
}, { message: 'must be host:port, e.g. 127.0.0.1:3128 or [::1]:3128' });

export const TlsVersionSchema = z.enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

const CidrSchema = z.string().refine((value) => {
  try {
    if (value.includes('/')) ipaddr.parseCIDR(value);
    else ipaddr.parse(value);
    return true;
  } catch {
    return false;
  }
}, { message: 'must be an IP address or CIDR range, e.g. 10.0.0.0/8' });

const ListenerSchema = z.strictObject({
  address: ListenAddressSchema,
  /** dns: a DNS server (UDP and TCP) answering only names a rule could allow (the `dns:` section). */
  mode: z.enum(['explicit', 'transparent-http', 'transparent-tls', 'dns']).default('explicit'),
  tls: z.strictObject({
    min_version: TlsVersionSchema.default('TLSv1.2'),
    max_version: TlsVersionSchema.optional(),
    ciphers: z.string().optional(),
    /** CA (PEM) whose client certificates identify users on TLS to the proxy; the user is the CN. */
    client_ca: z.string().min(1).optional(),
    /** Refuse TLS to the proxy without a valid client certificate. */
    require_client_certificate: z.boolean().default(false),
  }).superRefine((tlsOptions, ctx) => {
    const order = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
    if (tlsOptions.max_version !== undefined && order.indexOf(tlsOptions.max_version) < order.indexOf(tlsOptions.min_version)) {
      ctx.addIssue({ code: 'custom', path: ['max_version'], message: `is below min_version (${tlsOptions.min_version}): no client could connect` });
    }
    if (tlsOptions.require_client_certificate && tlsOptions.client_ca === undefined) {
      ctx.addIssue({ code: 'custom', path: ['require_client_certificate'], message: 'needs client_ca: the CA that signs the client certificates' });
    }
  }).optional(),
}).superRefine((listener, ctx) => {
  if (listener.mode === 'dns' && listener.tls !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['tls'], message: 'a dns listener speaks plain DNS over UDP and TCP; tls applies to the proxy listeners only' });
  }
});

const HttpMethodSchema = z.string().regex(/^[A-Za-z!#$%&'*+.^_`|~-]+$/, 'must be an HTTP method token such as GET')
  .transform((m) => m.toUpperCase());

/** A TCP port, with the range in the message ("got 99999" alone doesn't say what would do). */
const PortSchema = z.number()
  .int({ error: (issue) => `a port is a whole number from 1 to 65535, got ${String(issue.input)}` })
  .min(1, { error: (issue) => `a port is 1 to 65535, got ${String(issue.input)}` })
  .max(65535, { error: (issue) => `a port is 1 to 65535, got ${String(issue.input)}` });

const RuleSchema = z.strictObject({
  name: z.string().min(1).regex(/^[A-Za-z0-9_.:-]+$/, 'may hold letters, digits and _ . : - only'),
  hosts: z.array(z.string()).min(1, 'list at least one host'),
  ports: z.array(PortSchema).min(1).optional(),
  methods: z.array(HttpMethodSchema).min(1).optional(),
  paths: z.array(z.string().startsWith('/', 'a path must start with "/"')).min(1).optional(),
  clients: z.array(CidrSchema).min(1).optional(),
  users: z.array(z.string().min(1)).min(1).optional(),
  inspect: z.boolean().default(false),
  /** enforce (default): the rule allows. report: it never allows; a denial it would have allowed is logged with would_allow. */
  mode: z.enum(['enforce', 'report']).optional(),
  /** A spliced tunnel whose ClientHello carries Encrypted Client Hello (its SNI is only a public name). */
  ech: z.enum(['deny', 'allow']).optional(),
  /** Header rules for the requests this rule allows (after the global ones). */
  headers: HeaderRulesSchema.optional(),
  /** Credentials injected into this rule's intercepted requests. */
  inject: z.array(InjectSchema).min(1).optional(),
  /** Request bodies beyond this many bytes get 413 (body-too-large). */
  max_request_bytes: z.number().int().min(0).optional(),
  /** How this rule's traffic leaves: a parent proxy (http://[user:pass@]host:port), or direct; default upstream.proxy. */
  proxy: z.union([z.literal('direct'), z.url({ protocol: /^http$/, error: 'must be direct or an http:// URL such as http://parent:3128' })]).optional(),
  /** Requests per client beyond this rate get 429 (rate-limited) with Retry-After. */
  rate: RateSchema.optional(),
  comment: z.string().optional(),
}).superRefine((rule, ctx) => {
  rule.paths?.forEach((path, index) => {
    if (!path.startsWith('/')) return; // reported by the element schema
    const error = validateRulePath(path);
    if (error !== undefined) ctx.addIssue({ code: 'custom', path: ['paths', index], message: error });
  });
  const seen = new Map<string, number>();
  rule.hosts.forEach((host, index) => {
    const parsed = parseHostPattern(host);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', path: ['hosts', index], message: parsed.error });
      return;
    }
    const key = patternKey(parsed.value);
    const first = seen.get(key);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['hosts', index], message: `"${host}" repeats hosts[${first}]` });
    } else {
      seen.set(key, index);
    }
  });
});

export const ProxyConfigSchema = z.strictObject({
  /** Addon modules (.ts, .mts, .js, .mjs), run in this order; paths are relative to the config file. */
  addons: z.array(z.string().min(1)).default([]),
  /** Header rules for every forwarded request and response. */
  headers: HeaderRulesSchema.optional(),
  listen: z.array(ListenerSchema).min(1, 'list at least one listener')
    .default([{ address: '127.0.0.1:3128', mode: 'explicit' }]),
  admin: z.strictObject({
    address: ListenAddressSchema.default('127.0.0.1:9090'),
    token: z.string().min(16, 'a token must be at least 16 characters').optional(),
    enabled: z.boolean().default(true),
    /** Finished flows the dashboard and API keep in memory (a ring buffer: the oldest go first). */
    flows: z.number().int().min(1).max(1_000_000).default(1000),
  }).optional(),
  state_dir: z.string().min(1).default('./.portcullis'),
  ca: z.strictObject({
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    leaf_key: z.enum(['ecdsa', 'rsa']).default('ecdsa'),
    cache_size: z.number().int().min(1).max(1_000_000).default(1000),
    name_constraints: z.boolean().default(false),
  }).superRefine((ca, ctx) => {
    if ((ca.cert === undefined) !== (ca.key === undefined)) {
      const missing = ca.cert === undefined ? 'cert' : 'key';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'give both cert and key to bring your own CA, or neither to let Portcullis generate one in state_dir' });
    }
    if (ca.name_constraints && ca.cert !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['name_constraints'], message: 'name_constraints applies only to the CA Portcullis generates; a brought CA carries its own constraints' });
    }
  }).default({ leaf_key: 'ecdsa', cache_size: 1000, name_constraints: false }),
  upstream: z.strictObject({
    tls: z.strictObject({
      min_version: TlsVersionSchema.default('TLSv1.2'),
      extra_ca: z.array(z.string().min(1)).default([]),
    }).optional(),
    proxy: z.url({ protocol: /^http$/, error: 'must be an http:// URL such as http://parent:3128' })
      // user:password@ is sent to the parent as Proxy-Authorization (Basic) on every path; a
      // problem is named without repeating the URL, which may hold a password.
      .superRefine((url, ctx) => {
        const parsed = parseParentProxyUrl(url);
        if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error.replace(/^upstream\.proxy:? ?/, '') });
      })
      .optional(),
    /** Hosts (rule host syntax: names, *.suffix, IPs, CIDRs) reached directly, not through upstream.proxy. */
    no_proxy: z.array(z.string().min(1)).optional(),
    /** Offer HTTP/2 (ALPN h2) to https origins; one multiplexed connection per origin when they take it. */
    http2: z.boolean().default(true),
  }).optional(),
  resolve: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).default({})
    .superRefine((map, ctx) => {
      for (const [name, value] of Object.entries(map)) {
        for (const address of Array.isArray(value) ? value : [value]) {
          if (!ipaddr.isValid(address)) {
            ctx.addIssue({ code: 'custom', path: [name], message: `"${address}" is not an IP address` });
          }
        }
      }
    }),
  destinations: z.strictObject({
    allow_ranges: z.array(CidrSchema).default([]),
  }).default({ allow_ranges: [] }),
  log: z.strictObject({
    format: z.enum(['json', 'squid', 'console']).default('json'),
    file: z.string().min(1).default('-'),
  }).default({ format: 'json', file: '-' }),
  timeouts: z.strictObject({
    upstream_connect: DurationSchema.default(10_000),
    upstream_response: DurationSchema.default(60_000),
    client_headers: DurationSchema.default(30_000),
    idle: DurationSchema.default(60_000),
    tunnel_idle: DurationSchema.default(600_000),
    client_hello: DurationSchema.default(10_000),
    /** On SIGTERM, how long in-flight requests and tunnels may take to finish. */
    shutdown_grace: DurationSchema.default(10_000),
    /**
     * On SIGTERM, how long to keep accepting (already not ready) before the drain starts, so a
     * load balancer's health check takes us out of rotation before connections are refused.
     */
    shutdown_delay: DurationSchema.default(0),
    /** How long an idle pooled upstream connection is kept for reuse. */
    upstream_idle: DurationSchema.default(30_000),
    /** The time budget of one addon hook call; beyond it the flow fails closed (addon-failed). */
    addon: DurationSchema.default(1_000),
  }).default({
    upstream_connect: 10_000, upstream_response: 60_000, client_headers: 30_000, idle: 60_000, tunnel_idle: 600_000,
    client_hello: 10_000, shutdown_grace: 10_000, shutdown_delay: 0, upstream_idle: 30_000, addon: 1_000,
  }),
  auth: z.strictObject({
    /** Proxy Basic authentication: every client must authenticate (407 otherwise). */
    basic: z.strictObject({
      users_file: z.string().min(1),
      realm: z.string().min(1).max(100).default('Portcullis'),
    }),
    /** Named groups of users; a rule's `users` may name "group:NAME". */
    groups: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), z.array(z.string().min(1))).default({}),
  }).optional(),
  limits: z.strictObject({
    /** Bytes of request line plus headers; beyond gives 431. */
    max_header_bytes: z.number().int().min(1024).max(1024 * 1024).default(32 * 1024),
    /** Header fields in one request; beyond gives 431. */
    max_headers: z.number().int().min(8).max(10_000).default(100),
    /** Open client connections per listener; beyond gives 503. */
    max_connections: z.number().int().min(1).default(10_000),
    /** Open client connections from one source address per listener; beyond gives 503. */
    max_connections_per_client: z.number().int().min(1).default(1_000),
  }).default({ max_header_bytes: 32 * 1024, max_headers: 100, max_connections: 10_000, max_connections_per_client: 1_000 }),
  /**
   * A spliced CONNECT whose client sends no SNI (or no TLS at all): deny (default), or allow
   * it since the destination is still the CONNECT host's checked address.
   */
  missing_sni: z.enum(['deny', 'allow']).default('deny'),
  /**
   * Transparent listeners (docs/transparent.md). verify_original_destination: the Host/SNI name
   * must resolve to the address the client dialed (SO_ORIGINAL_DST), like Squid's
   * host_verify_strict, else deny host-mismatch. sni_missing: a ClientHello without SNI is
   * denied, or routed to its original destination when an IP/CIDR rule allows that address.
   */
  transparent: z.strictObject({
    verify_original_destination: z.boolean().default(false),
    sni_missing: z.enum(['deny', 'original-destination']).default('deny'),
  }).default({ verify_original_destination: false, sni_missing: 'deny' }),
  rules: z.array(RuleSchema).default([]).superRefine((rules, ctx) => {
    const names = new Map<string, number>();
    rules.forEach((rule, index) => {
      const first = names.get(rule.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `rule name "${rule.name}" repeats rules[${first}]` });
      } else {
        names.set(rule.name, index);
      }
    });
  }),
  default: z.literal('deny', { error: 'the only default is "deny"; add allow rules instead' }).default('deny'),
  dry_run: z.boolean().default(false),
  /** The DNS listener's answers and exfiltration guard (docs/side-channels.md). */
  dns: DnsConfigSchema.default(DNS_DEFAULTS),
});

/** The validated, defaulted config. Deep-frozen by the loader; nothing below config/ re-checks it. */
export type ProxyConfig = z.infer<typeof ProxyConfigSchema>;
export type ListenerConfig = ProxyConfig['listen'][number];
export type RuleConfig = ProxyConfig['rules'][number];
