import type { HeaderPair } from './flow-record.js';

/** Headers whose values are credentials: kept by name, never by value, in any flow record. */
export const SECRET_HEADERS: ReadonlySet<string> = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-amz-security-token',
]);

export const REDACTED = '[redacted]';

/** A record keeps at most this many headers, each value cut to this many characters. */
const MAX_HEADERS = 100;
const MAX_VALUE_CHARS = 1024;

/**
 * Copies a raw header list (`[name, value, name, value, ...]`, as node gives it) into pairs
 * for a flow record: secret values replaced, the list and each value bounded, so a record's
 * size does not depend on what a client sends.
 */
export const redactHeaders = (raw: readonly string[]): HeaderPair[] => {
  const pairs: HeaderPair[] = [];
  for (let i = 0; i + 1 < raw.length && pairs.length < MAX_HEADERS; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (SECRET_HEADERS.has(name.toLowerCase())) pairs.push([name, REDACTED]);
    else pairs.push([name, value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}…` : value]);
  }
  return pairs;
};

/** The same for a header object (synthetic responses). */
export const redactHeaderObject = (headers: Readonly<Record<string, string>>): HeaderPair[] =>
  redactHeaders(Object.entries(headers).flat());
