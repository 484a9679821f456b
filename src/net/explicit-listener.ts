import http from 'node:http';
import { whenResponseClosed } from '../http/when-response-closed.js';
import net from 'node:net';
import tls from 'node:tls';
import type { ListenerConfig } from '../config/schema.js';
import { PortcullisError } from '../errors.js';
import { clientIpOf } from '../flow/client-address.js';
import { createFlowBuilder } from '../flow/flow-builder.js';
import { errorResponse, serializeResponse } from '../http/deny-response.js';
import { createForwardRequestHandler, explicitRequestFlow, routeExplicitRequest, type ListenerInfo } from '../http/forward-request.js';
import { answerUpgrade, relayUpgrade } from '../http/upgrade-relay.js';
import { afterAuthentication, authenticateClient } from '../http/authenticate-client.js';
import type { ProxyRuntime } from '../runtime.js';
import { createConnectHandler } from './connect-handler.js';
import { containConnectErrors, containRequestErrors } from '../http/contain-handler-errors.js';
import { clientTlsProfile } from '../tls/client-tls-profile.js';
import { createInterceptor } from '../tls/tls-interceptor.js';
import { joinListenAddress, splitListenAddress } from './listen-address.js';
import { sniffProtocol } from './sniff-protocol.js';
import { createConnectionLimiter } from './connection-limiter.js';
import { parseHost, type CanonicalHost } from '../flow/host.js';
import { readFileSync } from 'node:fs';
import { LruCache } from '../tls/lru-cache.js';
import { parsePemBundle, verifiedClientUser } from '../tls/verify-client-certificate.js';

/** One bound proxy port. */
export interface Listener {
  readonly config: ListenerConfig;
  /** Bound address ("127.0.0.1:3128"), known after listen(). */
  address(): string;
  listen(): Promise<string>;
  /** Client connections open now (metrics, dashboard). */
  connections?(): number;
  /**
   * Stops accepting, lets in-flight requests and tunnels finish for up to `graceMs`, then
   * destroys what is left; idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'headers-too-large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'request-timeout' },
  ERR_HTTP_HEADERS_TIMEOUT: { status: 408, reason: 'request-timeout' },
};

/** The listener's `tls.client_ca` bundle; an unreadable file is an error naming the key. */
const readClientCa = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new PortcullisError('PCL_ERR_CONFIG_READ', `listen[].tls.client_ca: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
};

/** Over a connection limit: 503 with the reason, one log line, and the socket closed. */
const refuseConnection = (runtime: ProxyRuntime, socket: net.Socket, listener: string, reason: string): void => {
  const flow = createFlowBuilder({
    id: runtime.nextFlowId(), kind: 'http', startedAt: runtime.clock.now(), listener, method: '-', url: '-', host: '-', port: 0,
    client: { address: clientIpOf(socket.remoteAddress), port: socket.remotePort ?? 0 },
  }, (record) => runtime.recordFlow(record));
  Object.assign(flow.fields, { verdict: 'deny', reason: 'connection-limit', detail: reason, status: 503 });
  socket.end(serializeResponse(errorResponse(503, 'connection_limit_reached', 'connection-limit', reason)));
  flow.finish(runtime.clock.now());
};

/**
 * An explicit forward-proxy listener: absolute-form HTTP requests and CONNECT tunnels, spoken
 * in plain text or inside TLS to the proxy itself (`https_proxy=https://...`): the first byte
 * of each connection decides, so one port serves both.
 */
export const createExplicitListener = (runtime: ProxyRuntime, config: ListenerConfig): Listener => {
  const { host, port } = splitListenAddress(config.address);
  const timeouts = runtime.state().config.timeouts;
  const server = http.createServer({
    requireHostHeader: false,
    keepAliveTimeout: timeouts.idle,
    headersTimeout: timeouts.client_headers,
    // How often headersTimeout is enforced; Node's default (30 s) would let a slow client linger.
    connectionsCheckingInterval: Math.max(250, Math.min(5000, timeouts.client_headers / 4)),
    requestTimeout: 0,
    noDelay: true,
    maxHeaderSize: runtime.state().config.limits.max_header_bytes,
  });
  // This server never listens (the front socket server below does); 'listening' starts the
  // periodic check that enforces headersTimeout, the slowloris guard.
  server.emit('listening');
  const sockets = new Set<net.Socket>();
  let bound = config.address;
  let closing: Promise<void> | undefined;
  const info: ListenerInfo = { get id() { return bound; }, mode: 'explicit' };

  const front = net.createServer({ noDelay: true, allowHalfOpen: true });
  const limiter = createConnectionLimiter(() => {
    const { limits } = runtime.state().config;
    return { maxConnections: limits.max_connections, maxConnectionsPerClient: limits.max_connections_per_client };
  });
  front.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const admission = limiter.admit(socket);
    if (!admission.ok) {
      refuseConnection(runtime, socket, bound, admission.reason);
      return;
    }
    void sniffProtocol(socket, timeouts.client_headers).then((protocol) => {
      if (protocol === 'plain') {
        server.emit('connection', socket);
        socket.resume();
      } else if (protocol === 'tls') {
        terminateTls(socket);
      } else {
        // Closed (or half-closed: the front server allows half-open sockets) before a byte.
        socket.destroy();
      }
    });
  });
  /**
   * TLS to the proxy: a certificate for the name the client asked for (or the listener address),
   * from the proxy CA. With `tls.client_ca`, clients may (or must) present a certificate; its CN
   * names the user for rules with `users`.
   */
  const clientCa = config.tls?.client_ca === undefined ? undefined : readClientCa(config.tls.client_ca);
  const trustedClientCas = clientCa === undefined ? [] : parsePemBundle(clientCa);
  const profile = clientTlsProfile(config);
  const proxyContexts = new LruCache<string, Promise<tls.SecureContext>>(64);
  const proxyContextFor = (named: CanonicalHost): Promise<tls.SecureContext> => {
    if (clientCa === undefined) return interceptor.contextFor(named);
    const cached = proxyContexts.get(named.host);
    if (cached) return cached;
    const created = runtime.ca().leafFor(named).then((leaf) => tls.createSecureContext({
      cert: leaf.certPem, key: leaf.keyPem, ca: clientCa, minVersion: profile.minVersion, maxVersion: profile.maxVersion,
      ...(profile.ciphers ? { ciphers: profile.ciphers } : {}),
    }));
    created.catch(() => proxyContexts.delete(named.host));
    proxyContexts.set(named.host, created);
    return created;
  };
  const terminateTls = (socket: net.Socket): void => {
    const ownAddress = parseHost(socket.localAddress ?? host);
    if (!ownAddress.ok) {
      socket.destroy();
      return;
    }
    void proxyContextFor(ownAddress.value).then((context) => {
      const secure = new tls.TLSSocket(socket, {
        isServer: true,
        secureContext: context,
        ALPNProtocols: ['http/1.1'],
        ...(clientCa !== undefined ? { requestCert: true, rejectUnauthorized: config.tls?.require_client_certificate === true } : {}),
        SNICallback: (servername, callback) => {
          const named = parseHost(servername);
          if (!named.ok) {
            callback(new Error('invalid SNI'), undefined);
            return;
          }
          proxyContextFor(named.value).then((ctx) => callback(null, ctx), (error: Error) => callback(error, undefined));
        },
      });
      secure.on('error', () => secure.destroy());
      secure.once('secure', () => {
        if (trustedClientCas.length > 0) {
          const user = verifiedClientUser(secure.getPeerX509Certificate(), trustedClientCas, runtime.clock.now());
          if (user) runtime.certificateUsers.set(secure, user);
          else if (config.tls?.require_client_certificate) {
            secure.destroy();
            return;
          }
        }
        server.emit('connection', secure);
      });
      socket.resume();
    }, () => socket.destroy());
  };
  // Sockets with a request in progress: a parse error there (client vanished mid-body) is
  // logged by that request's own flow, not as a separate malformed request.
  const busy = new WeakSet<net.Socket>();
  const forwardRequest = containRequestErrors(runtime.logger, createForwardRequestHandler(runtime, info));
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    busy.add(req.socket);
    whenResponseClosed(res, () => busy.delete(req.socket));
    forwardRequest(req, res);
  };
  server.on('request', onRequest);
  server.on('checkContinue', onRequest);
  server.on('upgrade', containConnectErrors(runtime.logger, (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const flow = explicitRequestFlow(runtime, info, req);
    afterAuthentication(authenticateClient(runtime, req, flow), (auth) => {
      if (!auth.ok) {
        answerUpgrade(runtime, socket, flow, auth.response);
        return;
      }
      const route = routeExplicitRequest(runtime, info, req, flow);
      if (route.kind === 'answer') answerUpgrade(runtime, socket, flow, route.response);
      else void relayUpgrade(runtime, req, socket, head, flow, route.destination, route.pathAndQuery, route.scheme);
    });
  }));
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
    connections: () => sockets.size,
    listen: () => new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(new PortcullisError('PCL_ERR_LISTEN_FAILED', `cannot listen on ${config.address}: ${error.message}`, { cause: error }));
      };
      front.once('error', onError);
      front.listen({ host, port }, () => {
        front.off('error', onError);
        const address = front.address() as net.AddressInfo;
        bound = joinListenAddress(address.address, address.port);
        resolve(bound);
      });
    }),
    close: (graceMs = 0) => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => {
          if (front.listening) front.close(() => resolve());
          else resolve();
        });
        // Idle keep-alive connections go now; busy ones may finish their request.
        server.closeIdleConnections();
        const deadline = Date.now() + graceMs;
        while (sockets.size > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          server.closeIdleConnections();
        }
        server.close(() => {});
        interceptor.close();
        for (const socket of sockets) socket.destroy();
        await stopped;
      })();
      return closing;
    },
  };
};
