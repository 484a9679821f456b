import type http from 'node:http';
import type net from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import { clientIpOf } from '../flow/client-address.js';
import { parseHost } from '../flow/host.js';
import { errorResponse, serializeResponse } from '../http/deny-response.js';
import { createHttpFront, type HttpFront } from '../http/http-front.js';
import { nodeExchange, proxyAuthorizationOf, type ExchangeSide } from '../http/node-exchange.js';
import { upgradeExchange } from '../http/upgrade-relay.js';
import type { Credentials } from '../pipeline/authenticate.js';
import { recordConnectionRefusal } from '../pipeline/connection-refusal.js';
import type { RequestSource, TunnelContext } from '../pipeline/identify-request.js';
import { runRequest } from '../pipeline/request-pipeline.js';
import { runTunnel, type TunnelDeps } from '../pipeline/tunnel-pipeline.js';
import type { ProxyRuntime } from '../runtime.js';
import { createInterceptor, type Interceptor } from '../tls/tls-interceptor.js';
import { createAcceptLoop } from './accept-loop.js';
import { createConnectionLimiter } from './connection-limiter.js';
import { createDrainTracker } from './drain-tracker.js';
import { formatOriginalDestination, type OriginalDestination, type OriginalDestinationSource } from './original-destination.js';
import { peekClientHello } from './peek-client-hello.js';
import { sniffProtocol } from './sniff-protocol.js';
import { socketTunnelClient } from './socket-tunnel-client.js';
import { createTlsToProxy } from './tls-to-proxy.js';
import type { DialResult } from './upstream-dialer.js';

/** One bound proxy port. */
export interface Listener {
  readonly config: ListenerConfig;
  /** Bound address ("127.0.0.1:3128"), known after listen(). */
  address(): string;
  listen(): Promise<string>;
  /** Client connections open now (metrics, dashboard). */
  connections?(): number;
  /**
   * Makes, in the background, the certificates (and TLS contexts) this listener would present
   * for these host names, so a first request to one pays neither; a later call replaces an
   * unfinished earlier one.
   */
  prewarmLeaves?(names: readonly string[]): void;
  /**
   * Stops accepting, lets in-flight requests and tunnels finish for up to `graceMs`, then
   * destroys what is left; idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

export interface ListenerDeps {
  readonly originalDestination: OriginalDestinationSource;
}

/** Names whose certificates a listener makes ahead, at most (the leaf-context cache holds 1,000). */
const MAX_PREWARMED_LEAVES = 500;

const clientOf = (socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): { address: string; port: number } =>
  ({ address: clientIpOf(socket.remoteAddress), port: socket.remotePort ?? 0 });

/**
 * A listener only accepts and identifies: explicit (CONNECT and absolute-form, in plain text or
 * TLS to the proxy), transparent-http (Host) or transparent-tls (SNI). Every connection is then
 * handed to the one request pipeline or the one tunnel pipeline.
 */
export const createListener = (runtime: ProxyRuntime, config: ListenerConfig, deps: ListenerDeps): Listener => {
  const mode = config.mode ?? 'explicit';
  const transparent = mode !== 'explicit';
  const originals = new WeakMap<net.Socket, OriginalDestination>();
  const limiter = createConnectionLimiter(() => {
    const { limits } = runtime.state().config;
    return { maxConnections: limits.max_connections, maxConnectionsPerClient: limits.max_connections_per_client };
  });
  const loop = createAcceptLoop(config.address, (socket) => accept(socket));
  const drain = createDrainTracker(() => runtime.clock.now());
  const listener = (): string => loop.address();
  const interceptor: Interceptor = createInterceptor(runtime, config, listener, () => runtime.ca());
  const tunnelDeps = (): TunnelDeps<DialResult> => ({
    dialerFor: (destination, rule) => runtime.state().upstream.routeFor(destination, rule).tunnel,
    prewarm: (destination, rule) => runtime.upstreamPools.prewarm(destination, runtime.state().upstream.routeFor(destination, rule)),
  });
  const intercept = (client: net.Socket, head: Buffer, tunnel: TunnelContext): void => interceptor.intercept(client, head, tunnel);
  // Sockets of CONNECT tunnels that carry plain HTTP: their requests are the tunnel's.
  const plainTunnels = new WeakMap<net.Socket, TunnelContext>();
  const serveHttp = (client: net.Socket, buffered: Buffer, tunnel: TunnelContext): void => {
    plainTunnels.set(client, tunnel);
    client.once('close', () => {
      tunnel.flow.transferred(client.bytesRead, client.bytesWritten);
      tunnel.flow.finished(runtime.clock.now());
    });
    if (buffered.length > 0) client.unshift(buffered);
    front?.serve(client);
    client.resume();
  };

  const refused = (socket: net.Socket, refusal: { status: number; reason: string; detail: string; method?: string }): void => {
    const original = originals.get(socket);
    recordConnectionRefusal(runtime, {
      kind: mode === 'transparent-tls' ? 'tunnel' : 'http', connection: { client: clientOf(socket), listener: listener() }, ...refusal,
      ...(original ? { originalDestination: formatOriginalDestination(original) } : {}),
    });
  };
  const credentialsOf = (req: http.IncomingMessage): Credentials => ({
    certificateUser: runtime.certificateUsers.get(req.socket), proxyAuthorization: proxyAuthorizationOf(req), target: req.url ?? '',
  });
  const sideOf = (req: http.IncomingMessage, source: RequestSource): ExchangeSide => ({
    source, listener: listener(), client: source.kind === 'tunnel' ? source.tunnel.flow.client : clientOf(req.socket),
    // Transparent clients do not know a proxy is there; a tunnel's requests are its user's.
    ...(transparent || source.kind === 'tunnel' ? {} : { credentials: credentialsOf(req) }),
  });
  const refuseNestedConnect = (socket: net.Socket): void => {
    const detail = 'CONNECT inside a CONNECT tunnel is refused';
    refused(socket, { status: 400, reason: 'invalid-destination', detail, method: 'CONNECT' });
    socket.end(serializeResponse(errorResponse(400, 'http_request_error', 'invalid-destination', detail)));
  };
  const sourceOf = (socket: net.Socket): RequestSource => {
    const tunnel = plainTunnels.get(socket);
    if (tunnel) return { kind: 'tunnel', tunnel };
    return mode === 'transparent-http' ? { kind: 'transparent-http', original: originals.get(socket) } : { kind: 'explicit' };
  };

  const front: HttpFront | undefined = mode === 'transparent-tls' ? undefined : createHttpFront(runtime.state().config, runtime.logger, {
    request: (req, res) => {
      drain.request(req.socket, res);
      runRequest(runtime, nodeExchange(runtime, req, res, sideOf(req, sourceOf(req.socket))));
    },
    upgrade: (req, socket, head) => {
      drain.tunnel(socket);
      runRequest(runtime, upgradeExchange(runtime, req, socket, head, sideOf(req, sourceOf(req.socket))));
    },
    ...(mode === 'explicit' ? {
      connect: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
        if (plainTunnels.has(socket)) {
          refuseNestedConnect(socket);
          return;
        }
        drain.tunnel(socket);
        runTunnel(runtime, socketTunnelClient(runtime, socket, {
          connection: { client: clientOf(socket), listener: listener() },
          connect: { authority: req.url ?? '', rawHeaders: req.rawHeaders, head, credentials: credentialsOf(req) },
          intercept, serveHttp,
        }), tunnelDeps);
      },
    } : {}),
    refused,
  });
  const tlsToProxy = mode === 'explicit' && front ? createTlsToProxy(runtime, config, listener, (secure, raw) => {
    drain.wraps(raw, secure);
    front.serve(secure);
  }) : undefined;

  const accept = (socket: net.Socket): void => {
    drain.accepted(socket);
    if (mode === 'transparent-tls') drain.tunnel(socket);
    if (transparent) {
      const original = deps.originalDestination.lookup(socket);
      if (original !== undefined) originals.set(socket, original);
    }
    const admission = limiter.admit(socket);
    if (!admission.ok) {
      refused(socket, { status: mode === 'transparent-tls' ? 0 : 503, reason: 'connection-limit', detail: admission.reason });
      if (mode === 'transparent-tls') socket.destroy();
      else socket.end(serializeResponse(errorResponse(503, 'connection_limit_reached', 'connection-limit', admission.reason)));
      return;
    }
    if (mode === 'transparent-http') {
      front?.serve(socket);
      return;
    }
    if (mode === 'transparent-tls') {
      void peekClientHello(socket, Buffer.alloc(0), runtime.state().config.timeouts.client_hello).then((hello) => runTunnel(runtime,
        socketTunnelClient(runtime, socket, {
          connection: { client: clientOf(socket), listener: listener() }, transparent: { original: originals.get(socket), hello }, intercept, serveHttp,
        }), tunnelDeps));
      return;
    }
    // One port serves plain text and TLS to the proxy itself: the first byte decides.
    void sniffProtocol(socket, runtime.state().config.timeouts.client_headers).then((protocol) => {
      if (protocol === 'plain') {
        front?.serve(socket);
        socket.resume();
      } else if (protocol === 'tls') {
        tlsToProxy?.terminate(socket);
      } else {
        // Closed (or half-closed: listeners allow half-open sockets) before a byte.
        socket.destroy();
      }
    });
  };

  // One name per event-loop turn: a mint and a TLS context are ~1.7 ms of CPU each, which must
  // not hold up the connections being served meanwhile.
  let prewarmRun = 0;
  const prewarmLeaves = (names: readonly string[]): void => {
    if (mode === 'transparent-http') return;
    prewarmRun += 1;
    const run = prewarmRun;
    const next = (index: number): void => {
      if (run !== prewarmRun || index >= Math.min(names.length, MAX_PREWARMED_LEAVES)) return;
      const parsed = parseHost(names[index] as string);
      const later = (): void => void setImmediate(() => next(index + 1));
      if (parsed.ok) interceptor.contextFor(parsed.value).then(later, later);
      else later();
    };
    setImmediate(() => next(0));
  };

  return {
    config,
    address: listener,
    connections: () => loop.sockets.size,
    prewarmLeaves,
    listen: () => {
      if (transparent) deps.originalDestination.status(); // loads the addon now, logging once what is available
      return loop.listen();
    },
    close: (graceMs = 0) => {
      prewarmRun += 1; // stops a prewarm in progress
      return loop.close(graceMs, () => drain.tick(loop.sockets, runtime.clock.now())).then(() => {
        front?.close();
        interceptor.close();
      });
    },
  };
};
