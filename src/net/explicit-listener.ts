import http from 'node:http';
import type net from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import { PortcullisError } from '../errors.js';
import { clientIpOf } from '../flow/client-address.js';
import { createFlowBuilder } from '../flow/flow-builder.js';
import { errorResponse, serializeResponse } from '../http/deny-response.js';
import { createForwardRequestHandler, type ListenerInfo } from '../http/forward-request.js';
import type { ProxyRuntime } from '../runtime.js';
import { createConnectHandler } from './connect-handler.js';
import { containConnectErrors, containRequestErrors } from '../http/contain-handler-errors.js';
import { clientTlsProfile } from '../tls/client-tls-profile.js';
import { createInterceptor } from '../tls/tls-interceptor.js';
import { joinListenAddress, splitListenAddress } from './listen-address.js';

/** One bound proxy port. */
export interface Listener {
  readonly config: ListenerConfig;
  /** Bound address ("127.0.0.1:3128"), known after listen(). */
  address(): string;
  listen(): Promise<string>;
  /** Stops accepting and destroys open connections; idempotent. */
  close(): Promise<void>;
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'headers-too-large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'request-timeout' },
  ERR_HTTP_HEADERS_TIMEOUT: { status: 408, reason: 'request-timeout' },
};

/** An explicit forward-proxy listener: absolute-form HTTP requests and CONNECT tunnels. */
export const createExplicitListener = (runtime: ProxyRuntime, config: ListenerConfig): Listener => {
  const { host, port } = splitListenAddress(config.address);
  const timeouts = runtime.state().config.timeouts;
  const server = http.createServer({
    requireHostHeader: false,
    keepAliveTimeout: timeouts.idle,
    headersTimeout: timeouts.client_headers,
    requestTimeout: 0,
    noDelay: true,
  });
  const sockets = new Set<net.Socket>();
  let bound = config.address;
  let closing: Promise<void> | undefined;
  const info: ListenerInfo = { get id() { return bound; }, mode: 'explicit' };

  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Sockets with a request in progress: a parse error there (client vanished mid-body) is
  // logged by that request's own flow, not as a separate malformed request.
  const busy = new WeakSet<net.Socket>();
  const forwardRequest = containRequestErrors(runtime.logger, createForwardRequestHandler(runtime, info));
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    busy.add(req.socket);
    res.once('close', () => busy.delete(req.socket));
    forwardRequest(req, res);
  });
  const interceptor = createInterceptor(runtime, info, clientTlsProfile(config), () => runtime.ca());
  server.on('connect', containConnectErrors(runtime.logger, createConnectHandler(runtime, info, interceptor)));
  server.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => {
    const known = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, reason: 'malformed-request' };
    const flow = createFlowBuilder({
      id: runtime.nextFlowId(), kind: 'http', startedAt: runtime.clock.now(), listener: bound, method: '-', url: '-', host: '-', port: 0,
      client: { address: clientIpOf(socket.remoteAddress), port: socket.remotePort ?? 0 },
    }, (record) => runtime.recordFlow(record));
    Object.assign(flow.fields, { verdict: 'deny', reason: known.reason, detail: `${error.code ?? 'error'}: ${error.message}` });
    // A connection reset before any request is not worth an access-log line.
    if (error.code === 'ECONNRESET' || !socket.writable || busy.has(socket)) {
      socket.destroy();
      return;
    }
    flow.fields.status = known.status;
    socket.end(serializeResponse(errorResponse(known.status, 'http_request_error', known.reason, error.code ?? error.message)));
    flow.finish(runtime.clock.now());
  });

  return {
    config,
    address: () => bound,
    listen: () => new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(new PortcullisError('PCL_ERR_LISTEN_FAILED', `cannot listen on ${config.address}: ${error.message}`, { cause: error }));
      };
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        const address = server.address() as net.AddressInfo;
        bound = joinListenAddress(address.address, address.port);
        resolve(bound);
      });
    }),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        if (!server.listening) resolve();
      });
      return closing;
    },
  };
};
