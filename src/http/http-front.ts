import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ProxyConfig } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';
import { containConnectErrors, containRequestErrors } from './contain-handler-errors.js';
import { errorResponse, serializeResponse } from './deny-response.js';
import { whenResponseClosed } from './when-response-closed.js';

/** How the parser's refusals are answered: one table for every listener and for intercepted tunnels. */
const CLIENT_ERRORS: Record<string, { status: number; reason: string; type: 'http_request_error' | 'http_request_header_section_size' }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'headers-too-large', type: 'http_request_header_section_size' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'request-timeout', type: 'http_request_error' },
  ERR_HTTP_HEADERS_TIMEOUT: { status: 408, reason: 'request-timeout', type: 'http_request_error' },
};

export interface HttpFrontHandlers {
  request(req: http.IncomingMessage, res: http.ServerResponse): void;
  upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void;
  /** CONNECT requests; without a handler they are refused with 400 (only explicit listeners take them). */
  connect?(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void;
  /** Records the log line of a connection refused before a request could be read. */
  refused(socket: net.Socket, refusal: { readonly status: number; readonly reason: string; readonly detail: string; readonly method?: string }): void;
}

/** One HTTP/1.1 server that never listens: listeners hand it the connections they accepted. */
export interface HttpFront {
  /** Serves HTTP on an accepted (or decrypted) connection. */
  serve(socket: Duplex): void;
  close(): void;
}

/**
 * The HTTP/1.1 server every listener and every intercepted tunnel uses: same limits, same
 * timeouts, same answers to malformed requests. Handler errors cost one request, never the
 * process.
 */
export const createHttpFront = (config: ProxyConfig, logger: Logger, handlers: HttpFrontHandlers): HttpFront => {
  const { timeouts, limits } = config;
  const server = http.createServer({
    requireHostHeader: false,
    keepAliveTimeout: timeouts.idle,
    headersTimeout: timeouts.client_headers,
    // How often headersTimeout is enforced; Node's default (30 s) would let a slow client linger.
    connectionsCheckingInterval: Math.max(250, Math.min(5000, timeouts.client_headers / 4)),
    requestTimeout: 0,
    noDelay: true,
    maxHeaderSize: limits.max_header_bytes,
  });
  // This server never listens; 'listening' starts the periodic check that enforces
  // headersTimeout, the slowloris guard.
  server.emit('listening');
  // Sockets with a request in progress: a parse error there (client vanished mid-body) is
  // logged by that request's own flow, not as a separate malformed request.
  const busy = new WeakSet<net.Socket>();
  const request = containRequestErrors(logger, handlers.request);
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    busy.add(req.socket);
    whenResponseClosed(res, () => busy.delete(req.socket));
    request(req, res);
  };
  server.on('request', onRequest);
  server.on('checkContinue', onRequest);
  server.on('upgrade', containConnectErrors(logger, handlers.upgrade));
  server.on('connect', containConnectErrors(logger, handlers.connect ?? ((_req, socket) => {
    const detail = 'CONNECT is not accepted on a transparent listener or inside a tunnel; configure an explicit listener for proxy clients';
    handlers.refused(socket, { status: 400, reason: 'invalid-destination', detail, method: 'CONNECT' });
    socket.end(serializeResponse(errorResponse(400, 'http_request_error', 'invalid-destination', detail)));
  })));
  server.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => {
    // A connection reset before any request is not worth an access-log line.
    if (error.code === 'ECONNRESET' || !socket.writable || busy.has(socket)) {
      socket.destroy();
      return;
    }
    const known = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, reason: 'malformed-request', type: 'http_request_error' as const };
    handlers.refused(socket, { status: known.status, reason: known.reason, detail: `${error.code ?? 'error'}: ${error.message}` });
    socket.end(serializeResponse(errorResponse(known.status, known.type, known.reason, error.code ?? error.message)));
  });
  return {
    serve: (socket) => {
      server.emit('connection', socket);
    },
    close: () => server.close(() => {}),
  };
};
