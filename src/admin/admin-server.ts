import http from 'node:http';
import type net from 'node:net';
import type { Logger } from '../logging/logger.js';
import { bindServer } from '../net/bind-server.js';
import type { AdminContext } from './admin-context.js';
import { checkAdminAccess } from './admin-auth.js';
import { caDownload, caInfo, caTrust } from './ca-api.js';
import { deniedHosts, getFlow, listFlows, streamFlows } from './flows-api.js';
import { sendError, sendJson, sendText } from './http-replies.js';
import { explain, listRules, reload } from './policy-api.js';
import { proposeFromFlows, proposeFromUpload } from './proposal-api.js';
import { createStaticFiles, defaultDashboardDir } from './static-files.js';

export interface AdminServerOptions {
  /** "host:port" to bind; port 0 picks a free one. */
  readonly address: string;
  /** Clients off loopback must send `Authorization: Bearer TOKEN`; without a token they are refused. */
  readonly token?: string;
  /** The built dashboard (default: dist/web). */
  readonly dashboardDir?: string;
  readonly logger: Logger;
}

export interface AdminServer {
  listen(): Promise<string>;
  /** Bound "host:port" after listen(). */
  address(): string;
  close(): Promise<void>;
}

type Handler = (ctx: AdminContext, req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams, match: RegExpExecArray) => void | Promise<void>;

interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  readonly handler: Handler;
}

/** The admin API (docs/admin-api.md). Paths are matched whole. */
const ROUTES: readonly Route[] = [
  { method: 'GET', path: /^\/metrics$/, handler: async (ctx, _req, res) => sendText(res, 200, await ctx.metrics.text(), ctx.metrics.contentType) },
  { method: 'GET', path: /^\/api\/version$/, handler: (ctx, _req, res) => sendJson(res, 200, { name: 'portcullis', version: ctx.version, node: process.version }) },
  { method: 'GET', path: /^\/api\/stats$/, handler: (ctx, _req, res) => sendJson(res, 200, ctx.liveStats()) },
  { method: 'GET', path: /^\/api\/flows$/, handler: (ctx, _req, res, query) => listFlows(ctx, res, query) },
  { method: 'GET', path: /^\/api\/flows\/stream$/, handler: (ctx, req, res, query) => streamFlows(ctx, req, res, query) },
  { method: 'GET', path: /^\/api\/flows\/([^/]+)$/, handler: (ctx, _req, res, _query, match) => getFlow(ctx, res, decodeURIComponent(match[1] ?? '')) },
  { method: 'GET', path: /^\/api\/denied$/, handler: (ctx, _req, res) => deniedHosts(ctx, res) },
  { method: 'GET', path: /^\/api\/rules$/, handler: (ctx, _req, res) => listRules(ctx, res) },
  { method: 'GET', path: /^\/api\/explain$/, handler: (ctx, _req, res, query) => explain(ctx, res, query) },
  { method: 'POST', path: /^\/api\/reload$/, handler: (ctx, _req, res) => reload(ctx, res) },
  { method: 'GET', path: /^\/api\/proposal$/, handler: (ctx, _req, res, query) => proposeFromFlows(ctx, res, query, false) },
  { method: 'POST', path: /^\/api\/proposal$/, handler: (ctx, req, res, query) => proposeFromUpload(ctx, req, res, query) },
  { method: 'GET', path: /^\/api\/proposal\.yaml$/, handler: (ctx, _req, res, query) => proposeFromFlows(ctx, res, query, true) },
  { method: 'GET', path: /^\/api\/ca$/, handler: (ctx, _req, res) => caInfo(ctx, res) },
  { method: 'GET', path: /^\/api\/ca\.(pem|der|p12)$/, handler: (ctx, _req, res, _query, match) => caDownload(ctx, res, match[1] as 'pem' | 'der' | 'p12') },
  { method: 'GET', path: /^\/api\/ca\/trust$/, handler: (ctx, _req, res) => caTrust(ctx, res) },
];

const readyz = (ctx: AdminContext, res: http.ServerResponse): void => {
  const ready = ctx.ready();
  const { config } = ctx.proxy.state();
  sendJson(res, ready ? 200 : 503, {
    ready, listeners: ctx.proxy.listeners.map((listener) => listener.address()), rules: config.rules.length,
  });
};

/**
 * The admin listener: dashboard, API, metrics, health. It is a server of its own, on its own
 * address; the proxy listeners never answer any of this.
 */
export const createAdminServer = (ctx: AdminContext, options: AdminServerOptions): AdminServer => {
  const staticFiles = createStaticFiles(options.dashboardDir ?? defaultDashboardDir());
  let bound = options.address;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const method = req.method === 'HEAD' ? 'GET' : req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin.invalid');
    } catch {
      sendError(res, 400, 'bad request target');
      return;
    }
    const path = url.pathname;
    // Health checks say nothing about traffic or policy, so probes need no token.
    if (path === '/healthz') {
      sendText(res, 200, 'ok\n');
      return;
    }
    if (path === '/readyz') {
      readyz(ctx, res);
      return;
    }
    if (path === '/metrics' || path === '/api' || path.startsWith('/api/')) {
      const access = checkAdminAccess(req, options.token, method !== 'GET');
      if (!access.ok) {
        sendError(res, access.status, access.message, {}, access.status === 401 ? { 'www-authenticate': 'Bearer realm="portcullis"' } : {});
        return;
      }
      const candidates = ROUTES.filter((route) => route.path.test(path));
      const route = candidates.find((candidate) => candidate.method === method);
      if (route === undefined) {
        if (candidates.length > 0) sendError(res, 405, `use ${candidates.map((c) => c.method).join(', ')}`, {}, { allow: candidates.map((c) => c.method).join(', ') });
        else sendError(res, 404, `no such endpoint: ${path} (see docs/admin-api.md)`);
        return;
      }
      await route.handler(ctx, req, res, url.searchParams, route.path.exec(path) as RegExpExecArray);
      return;
    }
    // The dashboard's own files carry no data; the page asks for a token when the API wants one.
    if (method !== 'GET') {
      sendError(res, 405, 'the dashboard is read with GET', {}, { allow: 'GET, HEAD' });
      return;
    }
    await staticFiles.serve(req, res, path);
  };

  const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.logger.error({ err: error, path: req.url?.split('?')[0] }, 'admin request failed');
      if (!res.headersSent) sendError(res, 500, 'internal error; see the proxy log');
      else res.destroy();
    });
  });
  server.on('clientError', (_error, socket: net.Socket) => socket.destroy());

  return {
    address: () => bound,
    listen: async () => {
      bound = await bindServer(server, options.address, 'admin: ');
      return bound;
    },
    close: () => new Promise((resolve) => {
      ctx.stream.close();
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
};
