import { z } from 'zod';

/** A header field name (RFC 9110 token). */
const HeaderNameSchema = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name (a token, e.g. X-Env)');
/** A header value: no CR, LF or NUL (they would split the header). */
const HeaderValueSchema = z.string().regex(/^[^\r\n\0]*$/, 'a header value may not hold CR, LF or NUL');

/** Names Portcullis owns: the destination (Host) and the message framing; a header rule may not touch them. */
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-connection']);
const RuleHeaderNameSchema = HeaderNameSchema.refine((name) => !RESERVED.has(name.toLowerCase()),
  { error: (issue) => `${String(issue.input)} is set by Portcullis (destination or message framing); a header rule may not change it` });

const HeaderOpsSchema = z.strictObject({
  /** Header names to remove. */
  remove: z.array(RuleHeaderNameSchema).optional(),
  /** Headers to set, replacing any of the same name. */
  set: z.record(RuleHeaderNameSchema, HeaderValueSchema).optional(),
  /** Headers to add, keeping those of the same name. */
  add: z.record(RuleHeaderNameSchema, HeaderValueSchema).optional(),
});

/**
 * Header rules, globally (`headers:`) and per rule (`rules[].headers:`): what is removed, set and
 * added on requests to the server and on responses to the client. `forwarded` says what becomes
 * of a client's X-Forwarded-For, Forwarded and Via (Portcullis adds none of its own unless
 * `replace`).
 */
export const HeaderRulesSchema = z.strictObject({
  request: HeaderOpsSchema.optional(),
  response: HeaderOpsSchema.optional(),
  forwarded: z.enum(['strip', 'replace', 'keep']).optional(),
});

/** Where an injected secret comes from; read when the config is loaded (and on every reload). */
const SecretSourceSchema = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') }),
  z.strictObject({ file: z.string().min(1) }),
], { error: 'give the secret as { env: NAME } or { file: PATH }' });

/** Credential injection: a header or query parameter whose value holds a secret, for one rule's intercepted requests. */
export const InjectSchema = z.strictObject({
  header: RuleHeaderNameSchema.optional(),
  query: z.string().regex(/^[A-Za-z0-9._~-]+$/, 'must be a query parameter name').optional(),
  /** The value, with {secret} where the secret goes; default "{secret}". */
  value: HeaderValueSchema.optional(),
  secret: SecretSourceSchema,
  /** A stand-in the client sends instead of the secret; only it is replaced, and it is refused on any other host. */
  replace: z.string().min(8, 'a stand-in should be at least 8 characters, so it cannot occur by chance')
    .regex(/^[A-Za-z0-9._~+\/=-]+$/, 'a stand-in holds letters, digits and ._~+/=- only').optional(),
}).superRefine((inject, ctx) => {
  if ((inject.header === undefined) === (inject.query === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give exactly one of header: or query:' });
  }
  if (inject.value !== undefined && !inject.value.includes('{secret}')) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: 'must hold {secret} where the secret goes' });
  }
});

const RATE = /^(\d+(?:\.\d+)?)\/(s|m|h)$/;
const PER_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** "10/s", "100/m", "1000/h": requests per client per rule; parsed to requests per millisecond window. */
export const RateSchema = z.strictObject({
  per_client: z.string().transform((text, ctx) => {
    const match = RATE.exec(text.trim());
    const count = Number(match?.[1]);
    if (!match || !(count > 0)) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a rate; write e.g. 10/s, 100/m or 1000/h` });
      return z.NEVER;
    }
    return { count, perMs: PER_MS[match[2] as keyof typeof PER_MS] };
  }),
});

export type HeaderRulesConfig = z.infer<typeof HeaderRulesSchema>;
export type InjectConfig = z.infer<typeof InjectSchema>;
