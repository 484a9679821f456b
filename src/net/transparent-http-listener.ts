import http from 'node:http';
import { whenResponseClosed } from '../http/when-response-closed.js';
import type net from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import { clientIpOf } from '../flow/client-address.js';
import { createFlowBuilder } from '../flow/flow-builder.js';
import { containConnectErrors, containRequestErrors } from '../http/contain-handler-errors.js';
import { errorResponse, serializeResponse } from '../http/deny-response.js';
import type { ListenerInfo } from '../http/forward-request.js';
import { createTransparentRequestHandler, routeTransparentRequest, transparentRequestFlow, type TransparentHttpContext } from '../http/transparent-request.js';
import { answerUpgrade, relayUpgrade } from '../http/upgrade-relay.js';
import type { ProxyRuntime } from '../runtime.js';
import { createAcceptLoop } from './accept-loop.js';
import { createConnectionLimiter } from './connection-limiter.js';
import type { Listener } from './explicit-listener.js';
import { formatOriginalDestination, type OriginalDestination, type OriginalDestinationSource } from './original-destination.js';
import type { LookupAll } from './resolver.js';
import { createOriginalDestinationVerifier } from './verify-original-destination.js';

export interface TransparentListenerDeps {
  readonly originalDestination: OriginalDestinationSource;
  /** The proxy's DNS lookup (tests inject one); used to verify original destinations. */
  readonly lookup?: LookupAll;
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'headers-too-large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'request-timeout' },
  ERR_HTTP_HEADERS_TIMEOUT: { status: 408, reason: 'request-timeout' },
};

/**
 * A transparent-http listener: connections redirected by the firewall (REDIRECT of port 80)
 * carry ordinary origin-form requests; the Host header names the destination and the same
 * policy as the explicit listener judges them, paths and methods included.
 */
export const createTransparentHttpListener = (runtime: ProxyRuntime, config: ListenerConfig, deps: TransparentListenerDeps): Listener => {
  const timeouts = runtime.state().config.timeouts;
  const limits = runtime.state().config.limits;
  const server = http.createServer({
    requireHostHeader: false,
    keepAliveTimeout: timeouts.idle,
    headersTimeout: timeouts.client_headers,
    connectionsCheckingInterval: Math.max(250, Math.min(5000, timeouts.client_headers / 4)),
    requestTimeout: 0,
    noDelay: true,
    maxHeaderSize: limits.max_header_bytes,
  });
  // Never listens itself (the accept loop does); 'listening' starts the headersTimeout checks.
  server.emit('listening');
  const originals = new WeakMap<net.Socket, OriginalDestination>();
  const limiter = createConnectionLimiter(() => {
    const current = runtime.state().config.limits;
    return { maxConnections: current.max_connections, maxConnectionsPerClient: current.max_connections_per_client };
  });
  const loop = createAcceptLoop(config.address, (socket) => {
    const admission = limiter.admit(socket);
    if (!admission.ok) {
      refuse(socket, 503, 'connection-limit', admission.reason);
      return;
    }
    const original = deps.originalDestination.lookup(socket);
    if (original !== undefined) originals.set(socket, original);
    server.emit('connection', socket);
  });
  const info: ListenerInfo = { get id() { return loop.address(); }, mode: 'transparent-http' };
  const context: TransparentHttpContext = {
    originalDestination: (req) => originals.get(req.socket),
    verify: createOriginalDestinationVerifier(runtime, deps.lookup),
  };

  /** One log line and a plain answer for a connection refused before any request was judged. */
  const refuse = (socket: net.Socket, status: number, reason: string, detail: string, method = '-'): void => {
    const flow = createFlowBuilder({
      id: runtime.nextFlowId(), kind: 'http', startedAt: runtime.clock.now(), listener: loop.address(), method, url: '-', host: '-', port: 0,
      client: { address: clientIpOf(socket.remoteAddress), port: socket.remotePort ?? 0 },
    }, (record) => runtime.recordFlow(record));
    const original = originals.get(socket);
    Object.assign(flow.fields, {
      verdict: 'deny', reason, detail, status,
      ...(original ? { originalDestination: formatOriginalDestination(original) } : {}),
    });
    socket.end(serializeResponse(errorResponse(status, status === 503 ? 'connection_limit_reached' : 'http_request_error', reason, detail)));
    flow.finish(runtime.clock.now());
  };

  const busy = new WeakSet<net.Socket>();
  const handle = containRequestErrors(runtime.logger, createTransparentRequestHandler(runtime, info, context));
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    busy.add(req.socket);
    whenResponseClosed(res, () => busy.delete(req.socket));
    handle(req, res);
  };
  server.on('request', onRequest);
  server.on('checkContinue', onRequest);
  server.on('upgrade', containConnectErrors(runtime.logger, (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const flow = transparentRequestFlow(runtime, info, req, context.originalDestination(req));
    void routeTransparentRequest(runtime, req, flow, context).then((route) => {
      if (route.kind === 'answer') answerUpgrade(runtime, socket, flow, route.response);
      else void relayUpgrade(runtime, req, socket, head, flow, route.destination, route.pathAndQuery, route.scheme);
    }, () => socket.destroy());
  }));
  // CONNECT makes no sense to a client that does not know a proxy is there.
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
    refuse(socket, 400, 'invalid-destination', 'CONNECT is not accepted on a transparent listener; configure an explicit listener for proxy clients', 'CONNECT');
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable || busy.has(socket)) {
      socket.destroy();
      return;
    }
    const known = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, reason: 'malformed-request' };
    refuse(socket, known.status, known.reason, `${error.code ?? 'error'}: ${error.message}`);
  });

  return {
    config,
    address: () => loop.address(),
    connections: () => loop.sockets.size,
    listen: () => {
      deps.originalDestination.status(); // loads the addon now, logging once what is available
      return loop.listen();
    },
    close: (graceMs = 0) => loop.close(graceMs, () => server.closeIdleConnections()).then(() => {
      server.close(() => {});
    }),
  };
};
