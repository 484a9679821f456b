import { targetFields, type LoggedRequest } from './logged-request.js';
import { optional, type LineResult } from './parse-json-line.js';

const TIMESTAMP = /^\d{1,12}(?:\.\d{1,6})?$/;
const RESULT = /^([A-Z_]+)\/(\d{3})$/;

interface Outcome {
  readonly verdict: 'allow' | 'deny';
  readonly reason?: string;
  readonly tunnelMode?: 'intercept';
}

/**
 * Squid's result code (%Ss) and status: what happened, as far as the line tells. Squid logs no
 * policy reason; a few outcomes still name one (409 is its Host header forgery check).
 */
const outcomeOf = (code: string, status: number, tunnel: boolean): Outcome => {
  if (code.includes('DENIED')) return { verdict: 'deny', ...(status === 407 ? { reason: 'credentials-missing' } : {}) };
  if (code === 'NONE' || code.startsWith('NONE_') || code.startsWith('TAG_NONE')) {
    // ssl-bump: the CONNECT step is logged as NONE/200, its decrypted requests follow as lines of their own.
    if (status === 200 && tunnel) return { verdict: 'allow', tunnelMode: 'intercept' };
    if (status === 409) return { verdict: 'deny', reason: 'host-mismatch' };
    if (status === 400) return { verdict: 'deny', reason: 'invalid-destination' };
    return { verdict: 'deny' };
  }
  if (status === 407) return { verdict: 'deny', reason: 'credentials-missing' };
  return { verdict: 'allow' };
};

/**
 * One line of Squid's native access.log (`logformat squid`, which Portcullis's `squid` format
 * also writes): `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`.
 */
export const parseSquidLine = (line: string, source: string): LineResult => {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 7) return { ok: false, error: `a Squid line has at least 7 fields, this one has ${fields.length}` };
  const [stamp, , client, result, , method, url, user] = fields as [string, string, string, string, string, string, string, string | undefined];
  if (!TIMESTAMP.test(stamp)) return { ok: false, error: `"${stamp.slice(0, 40)}" is not a Squid timestamp (seconds.millis)` };
  const match = RESULT.exec(result);
  if (match === null) return { ok: false, error: `"${result.slice(0, 40)}" is not a Squid result code such as TCP_MISS/200` };
  const code = match[1] as string;
  if (code.startsWith('DNS_')) return { ok: false, error: 'a DNS query', skip: true };
  const status = Number(match[2]);
  const kind = method === 'CONNECT' ? 'tunnel' : 'http';
  const outcome = outcomeOf(code, status, kind === 'tunnel');
  const request: LoggedRequest = {
    source,
    format: 'squid',
    kind,
    method,
    url,
    client,
    verdict: outcome.verdict,
    wouldDeny: false,
    status,
    time: Math.round(Number(stamp) * 1000),
    ...targetFields(kind, url),
    ...optional('user', user === undefined || user === '-' ? undefined : decodeURIComponentSafe(user)),
    ...optional('reason', outcome.reason),
    ...optional('tunnelMode', outcome.tunnelMode),
  };
  return { ok: true, request };
};

const decodeURIComponentSafe = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};
