import type { DenyDecision } from '../policy/decision.js';
import { formatProxyStatus, type ProxyErrorType } from './proxy-status.js';

/** What a client is told when Portcullis answers instead of the origin. */
export interface SyntheticResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  413: 'Content Too Large', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export const statusText = (status: number): string => STATUS_TEXT[status] ?? 'Error';

const oneLine = (text: string): string => text.replace(/[\r\n\x00-\x1f\x7f]+/g, ' ');

/** Denials answered with another status than 403: the client can do something about them. */
const DENY_STATUS: Partial<Record<DenyDecision['reason'], number>> = { 'body-too-large': 413, 'rate-limited': 429 };

/** A short plain-text body naming the host, the reason and what decided. */
export const denyResponse = (target: string, decision: DenyDecision): SyntheticResponse => {
  const decidedBy = decision.rule ? `rule "${decision.rule}"` : 'default: deny (no rule allows it)';
  const lines = [
    `Portcullis denied this request.`,
    ``,
    `target:     ${oneLine(target)}`,
    `reason:     ${decision.reason}`,
    `decided by: ${decidedBy}`,
  ];
  if (decision.detail) lines.push(`detail:     ${oneLine(decision.detail)}`);
  const type: ProxyErrorType = decision.reason === 'address-blocked' ? 'destination_ip_prohibited' : 'http_request_denied';
  return {
    status: DENY_STATUS[decision.reason] ?? 403,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      ...(decision.retryAfter !== undefined ? { 'retry-after': String(decision.retryAfter) } : {}),
      'proxy-status': formatProxyStatus(type, `${decision.reason}${decision.rule ? ` rule=${decision.rule}` : ''}`),
      'x-portcullis-reason': decision.reason,
      ...(decision.rule ? { 'x-portcullis-rule': decision.rule } : {}),
      'cache-control': 'no-store',
    },
    body: `${lines.join('\n')}\n`,
  };
};

/** A 4xx/5xx produced by the proxy itself (bad request, upstream failure), with Proxy-Status. */
export const errorResponse = (status: number, type: ProxyErrorType, reason: string, message: string): SyntheticResponse => ({
  status,
  headers: {
    'content-type': 'text/plain; charset=utf-8',
    'proxy-status': formatProxyStatus(type, `${reason}: ${message}`),
    'x-portcullis-reason': reason,
    'cache-control': 'no-store',
  },
  body: `Portcullis: ${statusText(status)}\n\nreason: ${reason}\ndetail: ${oneLine(message)}\n`,
});

/** Serializes a synthetic response for a raw socket (CONNECT, client errors). */
export const serializeResponse = (response: SyntheticResponse, close = true): Buffer => {
  const { head, body } = serializeParts(response, close);
  return Buffer.concat([head, body]);
};

/** The head and the body of a serialized synthetic response, apart (the log counts each). */
export const serializeParts = (response: SyntheticResponse, close = true): { head: Buffer; body: Buffer } => {
  const body = typeof response.body === 'string' ? Buffer.from(response.body, 'utf8') : response.body;
  const head = [`HTTP/1.1 ${response.status} ${statusText(response.status)}`];
  for (const [name, value] of Object.entries(response.headers)) head.push(`${name}: ${value}`);
  head.push(`content-length: ${body.length}`);
  if (close) head.push('connection: close');
  return { head: Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body };
};
