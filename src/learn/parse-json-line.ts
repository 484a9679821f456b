import {
  FIELD_CLIENT, FIELD_ERROR, FIELD_FLOW_ID, FIELD_KIND, FIELD_METHOD, FIELD_REASON, FIELD_RULE, FIELD_SNI,
  FIELD_STATUS, FIELD_TIME, FIELD_TUNNEL_MODE, FIELD_URL, FIELD_USER, FIELD_VERDICT, FIELD_WOULD_ALLOW, FIELD_WOULD_DENY,
} from '../logging/access-log-fields.js';
import { targetFields, type LoggedRequest } from './logged-request.js';

/** A line that parsed, one that did not, or one that parsed but is nothing to learn from (a DNS query: `skip`). */
export type LineResult =
  | { readonly ok: true; readonly request: LoggedRequest }
  | { readonly ok: false; readonly error: string; readonly skip?: true };

const text = (line: Record<string, unknown>, field: string): string | undefined => {
  const value = line[field];
  return typeof value === 'string' ? value : undefined;
};

/** One line of Portcullis's json access log (docs/access-log.md). */
export const parseJsonLine = (line: string, source: string): LineResult => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, error: 'not a JSON object' };
  const fields = parsed as Record<string, unknown>;
  const kind = text(fields, FIELD_KIND);
  const verdict = text(fields, FIELD_VERDICT);
  const client = text(fields, FIELD_CLIENT);
  const method = text(fields, FIELD_METHOD);
  const url = text(fields, FIELD_URL);
  const reason = text(fields, FIELD_REASON);
  if (kind === 'dns') return { ok: false, error: 'a DNS query', skip: true };
  if (kind !== 'http' && kind !== 'tunnel') return { ok: false, error: `"${FIELD_KIND}" must be "http" or "tunnel"` };
  if (verdict !== 'allow' && verdict !== 'deny') return { ok: false, error: `"${FIELD_VERDICT}" must be "allow" or "deny"` };
  for (const [name, value] of [[FIELD_CLIENT, client], [FIELD_METHOD, method], [FIELD_URL, url], [FIELD_REASON, reason]] as const) {
    if (value === undefined) return { ok: false, error: `"${name}" is missing or not a string` };
  }
  const mode = text(fields, FIELD_TUNNEL_MODE);
  const status = fields[FIELD_STATUS];
  const time = Date.parse(text(fields, FIELD_TIME) ?? '');
  const request: LoggedRequest = {
    source,
    format: 'json',
    kind,
    method: method as string,
    url: url as string,
    client: client as string,
    verdict,
    reason: reason as string,
    wouldDeny: fields[FIELD_WOULD_DENY] === true,
    status: typeof status === 'number' && Number.isFinite(status) ? status : 0,
    time: Number.isFinite(time) ? time : 0,
    ...targetFields(kind, url as string),
    ...optional('id', text(fields, FIELD_FLOW_ID)),
    ...optional('user', text(fields, FIELD_USER)),
    ...optional('rule', text(fields, FIELD_RULE)),
    ...optional('wouldAllow', text(fields, FIELD_WOULD_ALLOW)),
    ...optional<'tunnelMode', 'splice' | 'intercept'>('tunnelMode', mode === 'splice' || mode === 'intercept' ? mode : undefined),
    ...optional('error', text(fields, FIELD_ERROR)),
    ...optional('sni', text(fields, FIELD_SNI)),
  };
  return { ok: true, request };
};

/** `{ [key]: value }`, or nothing when the value is undefined (exactOptionalPropertyTypes-friendly). */
export const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
