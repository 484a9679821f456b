import type { FlowRecord } from '../flow/flow-record.js';
import {
  FIELD_BYTES_DOWN,
  FIELD_BYTES_UP,
  FIELD_CLIENT,
  FIELD_CLIENT_PORT,
  FIELD_DETAIL,
  FIELD_DNS_ANSWERS,
  FIELD_DNS_RCODE,
  FIELD_DNS_TRANSPORT,
  FIELD_DURATION_MS,
  FIELD_ERROR,
  FIELD_FLOW_ID,
  FIELD_HOST,
  FIELD_KIND,
  FIELD_LISTENER,
  FIELD_METHOD,
  FIELD_ORIGINAL_DST,
  FIELD_PARENT_ID,
  FIELD_PORT,
  FIELD_REASON,
  FIELD_RULE,
  FIELD_SNI,
  FIELD_STATUS,
  FIELD_TIME,
  FIELD_TUNNEL_MODE,
  FIELD_UPSTREAM,
  FIELD_URL,
  FIELD_USER,
  FIELD_VERDICT,
  FIELD_WOULD_ALLOW,
  FIELD_WOULD_DENY,
  type AccessLogField,
} from './access-log-fields.js';
import { isoTime, type IsoSecondCache } from './iso-time.js';

/**
 * Pure formatters: one FlowRecord -> one log line without the trailing newline.
 * Much of a record is client-supplied (url, method, host, detail, user), so every format escapes
 * line breaks, other control characters and bidi/invisible characters: a line can't be split
 * or made to look like another one.
 */

export interface ConsoleFormatOptions {
  /** ANSI colors: green allow, red deny, yellow dry-run would-deny. */
  readonly color: boolean;
}

const CLIENT_ABORTED = 'PCL_ERR_CLIENT_ABORTED';
const MAX_DATE_MS = 8.64e15;

// C0, DEL, C1, and invisible or direction-changing characters (incl. U+2028/2029 line breaks).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const HAS_UNSAFE = new RegExp(UNSAFE.source); // not global: test() keeps no lastIndex state

const hex = (code: number, width: number): string => code.toString(16).padStart(width, '0');

const escapeForConsole = (text: string): string =>
  text.replace(UNSAFE, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
  });

/** JSON.stringify already escapes C0 and lone surrogates; this covers the rest of UNSAFE. */
const escapeJsonExtras = (json: string): string =>
  // Testing first is several times cheaper than a replace with a callback, and lines rarely need it.
  (HAS_UNSAFE.test(json) ? json.replace(UNSAFE, (ch) => `\\u${hex(ch.charCodeAt(0), 4)}`) : json);

const percentEncode = (ch: string): string => {
  try {
    return encodeURIComponent(ch);
  } catch {
    return '%EF%BF%BD'; // lone surrogate
  }
};

/** One space-free, printable-ASCII Squid field; "-" when empty (as Squid does). */
const squidToken = (text: string | undefined): string =>
  text === undefined || text === '' ? '-' : text.replace(/[^\x21-\x7e]/gu, percentEncode);

const count = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);
const whole = (n: number): number => Math.round(count(n));

/** Epoch ms when the flow finished: access logs are written, and timestamped, at the end. */
const endMs = (record: FlowRecord): number => {
  const end = Math.floor(record.startedAt + count(record.durationMs));
  return Number.isFinite(end) && Math.abs(end) <= MAX_DATE_MS ? end : 0;
};

const defaultPort = (scheme: 'http' | 'https'): number => (scheme === 'https' ? 443 : 80);

/** Absolute URL for HTTP flows (intercepted requests are https), with any userinfo redacted. */
export const displayUrl = (record: FlowRecord): string => {
  let url = record.url;
  if (record.kind === 'http' && url.startsWith('/')) {
    const scheme = record.parentId !== undefined ? 'https' : 'http';
    const host = record.host.includes(':') && !record.host.startsWith('[') ? `[${record.host}]` : record.host;
    const port = record.port > 0 && record.port !== defaultPort(scheme) ? `:${record.port}` : '';
    url = `${scheme}://${host}${port}${url}`;
  }
  // Credentials in a URL must not reach the log; the greedy run stops at the authority's last '@'.
  return url.includes('@') ? url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?[^/?#]*@/, '$1***@') : url;
};

export const formatJson = (record: FlowRecord, times?: IsoSecondCache): string => {
  const line: Partial<Record<AccessLogField, string | number | boolean>> = {};
  const end = endMs(record);
  line[FIELD_TIME] = times === undefined ? new Date(end).toISOString() : isoTime(end, times);
  line[FIELD_FLOW_ID] = record.id;
  if (record.parentId !== undefined) line[FIELD_PARENT_ID] = record.parentId;
  line[FIELD_KIND] = record.kind;
  line[FIELD_CLIENT] = record.client.address;
  line[FIELD_CLIENT_PORT] = record.client.port;
  line[FIELD_LISTENER] = record.listener;
  line[FIELD_METHOD] = record.method;
  line[FIELD_URL] = displayUrl(record);
  line[FIELD_HOST] = record.host;
  line[FIELD_PORT] = record.port;
  if (record.sni !== undefined) line[FIELD_SNI] = record.sni;
  if (record.originalDestination !== undefined) line[FIELD_ORIGINAL_DST] = record.originalDestination;
  line[FIELD_VERDICT] = record.verdict;
  line[FIELD_REASON] = record.reason;
  if (record.rule !== undefined) line[FIELD_RULE] = record.rule;
  if (record.detail !== undefined) line[FIELD_DETAIL] = record.detail;
  if (record.wouldDeny !== undefined) line[FIELD_WOULD_DENY] = record.wouldDeny;
  if (record.wouldAllow !== undefined) line[FIELD_WOULD_ALLOW] = record.wouldAllow;
  line[FIELD_STATUS] = whole(record.status);
  line[FIELD_BYTES_UP] = count(record.bytesUp);
  line[FIELD_BYTES_DOWN] = count(record.bytesDown);
  line[FIELD_DURATION_MS] = count(record.durationMs);
  if (record.upstreamAddress !== undefined) line[FIELD_UPSTREAM] = record.upstreamAddress;
  if (record.tunnelMode !== undefined) line[FIELD_TUNNEL_MODE] = record.tunnelMode;
  if (record.errorCode !== undefined) line[FIELD_ERROR] = record.errorCode;
  if (record.user !== undefined) line[FIELD_USER] = record.user;
  if (record.dns !== undefined) {
    line[FIELD_DNS_TRANSPORT] = record.dns.transport;
    line[FIELD_DNS_RCODE] = record.dns.rcode;
    if (record.dns.answers.length > 0) line[FIELD_DNS_ANSWERS] = record.dns.answers.join(',');
  }
  return escapeJsonExtras(JSON.stringify(line));
};

/** "ip:port", "[v6]:port" -> ip. */
const addressOnly = (hostPort: string): string => {
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    return close > 0 ? hostPort.slice(1, close) : hostPort;
  }
  const colon = hostPort.lastIndexOf(':');
  return colon > 0 ? hostPort.slice(0, colon) : hostPort;
};

interface SquidOutcome {
  readonly code: string;
  readonly status: number;
  readonly hierarchy: string;
}

const squidOutcome = (record: FlowRecord): SquidOutcome => {
  // Squid has no DNS: a query is DNS_DENIED or DNS_ANSWERED, status 000, so Squid tools keep reading the line.
  if (record.kind === 'dns') return { code: record.verdict === 'deny' ? 'DNS_DENIED' : 'DNS_ANSWERED', status: 0, hierarchy: 'HIER_NONE/-' };
  if (record.verdict === 'deny') {
    return { code: 'TCP_DENIED', status: record.status > 0 ? record.status : 403, hierarchy: 'HIER_NONE/-' };
  }
  // Squid writes HIER_DIRECT/<server ip> for a request it forwarded and for a tunnel it opened;
  // an established (or intercepted) tunnel whose upstream address isn't known names its host,
  // as Squid does without an IP, so log tools still count it as gone direct.
  const established = record.kind === 'tunnel' && record.status === 200;
  const hierarchy =
    record.upstreamAddress !== undefined ? `HIER_DIRECT/${addressOnly(record.upstreamAddress)}`
      : established && record.host !== '' ? `HIER_DIRECT/${record.host}` : 'HIER_NONE/-';
  // A tunnel that got its 200 stays TCP_TUNNEL even if the upstream failed later.
  const base = established ? 'TCP_TUNNEL' : 'TCP_MISS';
  const code = record.errorCode === CLIENT_ABORTED ? `${base}_ABORTED` : base;
  return { code, status: whole(record.status), hierarchy };
};

/** Squid's mime field keeps the type only, cut at the first ';', space or tab (as Squid does). */
const squidMimeType = (contentType: string | undefined): string =>
  squidToken(contentType?.split(/[;\t ]/, 1)[0]);

/** Squid's %<st: the reply size sent to the client, headers included. */
const squidReplySize = (record: FlowRecord): number => whole(record.bytesDown) + whole(record.responseHeadBytes ?? 0);

/**
 * Squid's native access.log line, `logformat squid`:
 * `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`.
 */
export const formatSquid = (record: FlowRecord): string => {
  const end = endMs(record);
  const seconds = Math.floor(end / 1000);
  const millis = String(end - seconds * 1000).padStart(3, '0');
  const elapsed = String(whole(record.durationMs)).padStart(6, ' ');
  const outcome = squidOutcome(record);
  const status = String(outcome.status).padStart(3, '0');
  return [
    `${seconds}.${millis}`,
    elapsed,
    squidToken(record.client.address),
    `${squidToken(outcome.code)}/${status}`,
    String(squidReplySize(record)),
    squidToken(record.method),
    squidToken(displayUrl(record)),
    squidToken(record.user),
    squidToken(outcome.hierarchy),
    // A DNS line carries its response code where a request has its MIME type.
    record.dns !== undefined ? squidToken(record.dns.rcode) : squidMimeType(record.contentType),
  ].join(' ');
};

const ANSI_GREEN = '\u001b[32m';
const ANSI_RED = '\u001b[31m';
const ANSI_YELLOW = '\u001b[33m';
const ANSI_RESET = '\u001b[0m';

const BYTE_UNITS = ['KB', 'MB', 'GB', 'TB'] as const;

/** 512 B, 1.2 KB, 12 KB, 3.4 MB (binary units). */
export const formatBytes = (bytes: number): string => {
  let value = whole(bytes);
  if (value < 1024) return `${value} B`;
  let unit: string = BYTE_UNITS[0];
  for (const next of BYTE_UNITS) {
    unit = next;
    value /= 1024;
    if (value < 1024) break;
  }
  const text = value < 10 ? value.toFixed(1).replace(/\.0$/, '') : String(Math.round(value));
  return `${text} ${unit}`;
};

/** 12 ms, 1.52 s, 75.3 s. */
export const formatDuration = (ms: number): string => {
  const value = whole(ms);
  if (value < 1000) return `${value} ms`;
  return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
};

const twoDigits = (n: number): string => String(n).padStart(2, '0');

/** Local wall-clock time of day, for people watching a terminal. */
const clock = (epochMs: number): string => {
  const d = new Date(epochMs);
  return `${twoDigits(d.getHours())}:${twoDigits(d.getMinutes())}:${twoDigits(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

const verdictLabel = (record: FlowRecord): { text: string; ansi: string } => {
  if (record.verdict === 'deny') return { text: 'DENY', ansi: ANSI_RED };
  if (record.wouldDeny === true) return { text: 'WOULD-DENY', ansi: ANSI_YELLOW };
  return { text: 'ALLOW', ansi: ANSI_GREEN };
};

/** Allowed: "rule NAME"; denied or would-deny: "REASON" and the closest rule when known. */
const decisionTag = (record: FlowRecord): string => {
  const rule = record.rule !== undefined ? `rule ${record.rule}` : undefined;
  if (record.verdict === 'allow' && record.wouldDeny !== true) return rule ?? record.reason;
  return rule !== undefined ? `${record.reason} ${rule}` : record.reason;
};

/**
 * `15:11:02.123 ALLOW 127.0.0.1 GET http://example.com/ → 200 1.2 KB 12 ms [rule example]`,
 * then the tunnel mode, error code and detail when present.
 */
export const formatConsole = (record: FlowRecord, options: ConsoleFormatOptions): string => {
  const label = verdictLabel(record);
  const size =
    record.kind === 'tunnel'
      ? `↑${formatBytes(record.bytesUp)} ↓${formatBytes(record.bytesDown)}`
      : formatBytes(record.bytesDown);
  const parts = [
    clock(endMs(record)),
    options.color ? `${label.ansi}${label.text}${ANSI_RESET}` : label.text,
    escapeForConsole(record.client.address),
    escapeForConsole(record.method),
    escapeForConsole(displayUrl(record)),
    '→',
    record.dns !== undefined ? escapeForConsole(record.dns.rcode) : record.status > 0 ? String(whole(record.status)) : '-',
    record.dns !== undefined ? `${record.dns.transport} ${escapeForConsole(record.dns.answers.join(',') || '-')}` : size,
    formatDuration(record.durationMs),
  ];
  if (record.tunnelMode !== undefined) parts.push(record.tunnelMode);
  parts.push(`[${escapeForConsole(decisionTag(record))}]`);
  if (record.wouldAllow !== undefined) parts.push(`would-allow=${escapeForConsole(record.wouldAllow)}`);
  if (record.user !== undefined) parts.push(`user=${escapeForConsole(record.user)}`);
  if (record.errorCode !== undefined) parts.push(escapeForConsole(record.errorCode));
  if (record.detail !== undefined && record.detail !== '') parts.push(`(${escapeForConsole(record.detail)})`);
  return parts.join(' ');
};
