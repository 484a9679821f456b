import type http from 'node:http';
import type { AdminContext } from './admin-context.js';
import { groupDeniedByHost } from './denied-hosts.js';
import { matchesFlowFilter, parseFlowFilter } from './flow-filter.js';
import { sendError, sendJson } from './http-replies.js';
import { toFlowSummary } from './to-flow-view.js';

const DEFAULT_LIMIT = 100;

/** A non-negative integer query parameter; undefined when absent, NaN when malformed. */
const intParam = (query: URLSearchParams, name: string): number | undefined => {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  return /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
};

/** `GET /api/flows?limit=&after=&q=`: kept flows without headers, oldest first. */
export const listFlows = (ctx: AdminContext, res: http.ServerResponse, query: URLSearchParams): void => {
  const limit = intParam(query, 'limit');
  const after = intParam(query, 'after');
  if (Number.isNaN(limit) || Number.isNaN(after)) {
    sendError(res, 400, 'limit and after must be non-negative integers');
    return;
  }
  const q = query.get('q') ?? '';
  const filter = q.trim() === '' ? undefined : parseFlowFilter(q);
  const flows = ctx.ring.list({
    limit: Math.min(limit ?? DEFAULT_LIMIT, ctx.ring.capacity),
    ...(after !== undefined ? { after } : {}),
    ...(filter ? { match: (flow) => matchesFlowFilter(filter, flow) } : {}),
  });
  sendJson(res, 200, { flows: flows.map(toFlowSummary), lastSeq: ctx.ring.lastSeq(), capacity: ctx.ring.capacity });
};

/** `GET /api/flows/ID`: one flow with its (redacted) headers. */
export const getFlow = (ctx: AdminContext, res: http.ServerResponse, id: string): void => {
  const flow = ctx.ring.get(id);
  if (flow === undefined) sendError(res, 404, `no flow ${id} in the buffer (it keeps the last ${ctx.ring.capacity})`);
  else sendJson(res, 200, flow);
};

/** `GET /api/flows/stream?after=SEQ`: Server-Sent Events (Last-Event-ID works as `after`). */
export const streamFlows = (ctx: AdminContext, req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): void => {
  const lastEventId = req.headers['last-event-id'];
  const after = intParam(query, 'after') ?? (typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : undefined);
  if (Number.isNaN(after)) {
    sendError(res, 400, 'after must be a non-negative integer');
    return;
  }
  ctx.stream.attach(req, res, after);
};

/** `GET /api/denied`: denied flows in the buffer grouped by host, with a suggested allow rule each. */
export const deniedHosts = (ctx: AdminContext, res: http.ServerResponse): void => {
  sendJson(res, 200, { groups: groupDeniedByHost(ctx.ring.list()) });
};
