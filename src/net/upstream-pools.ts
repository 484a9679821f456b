import type net from 'node:net';
import type tls from 'node:tls';
import { Pool } from 'undici';
import { startH2Connection, type H2Connection, type UpstreamHandler, type UpstreamRequest } from './h2-upstream.js';
import { formatHostHeader, type Destination } from '../flow/destination.js';
import { startUpstreamTls, type UpstreamTlsResumption, type UpstreamTlsSettings } from './upstream-tls.js';
import type { UpstreamRoute } from './upstream-routes.js';
import type { CheckedDestination } from '../pipeline/dialing.js';

export type UpstreamScheme = 'http' | 'https';

/**
 * The connections to one checked destination: a keep-alive pool of HTTP/1.1 connections, or,
 * when the origin takes h2 (ALPN), one multiplexed HTTP/2 connection.
 */
export interface UpstreamPool {
  /** Sends a request on a connection of this destination (opened if needed) and relays the answer to `handler`. */
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void;
  /** "ip" of the connection this pool made last (every one went through the address check). */
  lastAddress(): string | undefined;
  /** How many connections this pool has started: unchanged across a request means it reused one. */
  connectionsStarted(): number;
  /**
   * https only: opens one connection (dial, checks, verified TLS) ahead of the first request,
   * unless the pool has one open or opening; the next new connection the pool needs takes it.
   */
  prewarm(): void;
  /** Closes a connection opened ahead that no request took. */
  discardWarm(): void;
  /** No connection, no request, nothing opening. */
  idle(): boolean;
  close(): Promise<void>;
}

export interface UpstreamPools {
  /**
   * The pool for a destination. With `pinned` (a transparent client's verified address), the
   * pool dials only those addresses and is kept apart from the pool that resolves the name.
   */
  poolFor(destination: Destination, scheme: UpstreamScheme, way: UpstreamRoute, pinned?: CheckedDestination): UpstreamPool;
  /** Opens an https connection to `destination` ahead of its first request (see UpstreamPool.prewarm). */
  prewarm(destination: Destination, way: UpstreamRoute): void;
  close(): Promise<void>;
}

export interface UpstreamPoolsOptions {
  /**
   * The config in force's route of a key, read at connect time, so a reload's new resolver,
   * pins, ranges and parent apply to new connections of an existing pool.
   */
  readonly route: (key: string) => UpstreamRoute | undefined;
  readonly tls: () => UpstreamTlsSettings;
  readonly idleMs: number;
  readonly handshakeTimeoutMs: () => number;
  /** upstream.http2 in force: offer h2 to https origins whose protocol is not known yet. */
  readonly http2: () => boolean;
}

/** Pools with no connection and no request for this long are closed and forgotten. */
const SWEEP_MS = 30_000;
/** A connection opened ahead of its first request is closed when no request took it by then. */
const WARM_MS = 10_000;

interface Opened {
  readonly socket: net.Socket;
  readonly address: string;
}

const ignore = (): void => undefined;

const ALPN_H1 = ['http/1.1'];
const ALPN_H2 = ['h2', 'http/1.1'];

/**
 * Upstream connections, one pool per scheme and canonical host:port. Every new connection is
 * made by the upstream dialer (resolve once, check every address, connect to a checked one),
 * then for https wrapped in verified TLS, so undici never resolves or connects by itself.
 * HTTP/1.1 goes through undici (it replaced node:http's Agent: the same relay measured 25-30 %
 * less CPU per request). The first connection to an https origin offers h2; while it is being
 * opened, the requests for that origin wait for it, so a burst shares one HTTP/2 connection
 * rather than opening one HTTP/1.1 connection each. An origin that answers http/1.1 gets the
 * pool, with that first connection as its first.
 */
export const createUpstreamPools = (options: UpstreamPoolsOptions): UpstreamPools => {
  const pools = new Map<string, UpstreamPool>();

  const create = (destination: Destination, scheme: UpstreamScheme, origin: string, way: UpstreamRoute, pinned: CheckedDestination | undefined): UpstreamPool => {
    let last: string | undefined;
    let started = 0;
    let warm: { readonly opened: Promise<Opened>; readonly timer: NodeJS.Timeout } | undefined;
    // What the origin speaks: unknown until a connection offering h2 has been opened.
    let protocol: 'unknown' | 'h1' | 'h2' = scheme === 'https' && options.http2() ? 'unknown' : 'h1';
    let h2: H2Connection | undefined;
    let opening: Promise<void> | undefined;
    // The newest TLS session the origin issued on this pool's connections, resumed by the next
    // one: an abbreviated handshake instead of a full one when an origin closes keep-alive
    // connections. Kept with the upstream TLS settings it was verified under: a reload that
    // changes trusted roots starts over with full handshakes.
    let resumable: { readonly settings: UpstreamTlsSettings; readonly session: Buffer } | undefined;
    const resumptionFor = (settings: UpstreamTlsSettings): UpstreamTlsResumption => ({
      session: resumable?.settings === settings ? resumable.session : undefined,
      keep: (session) => { resumable = { settings, session }; },
    });
    const authority = origin.slice('https://'.length);
    const open = (alpn: readonly string[]): Promise<Opened> => {
      const current = options.route(way.key) ?? way;
      const dialer = scheme === 'https' ? current.tunnel : current.http;
      return (pinned && pinned.local ? dialer.connect(pinned) : dialer.dial(destination)).then(async ({ socket, address }) => {
        if (scheme === 'http') return { socket, address };
        try {
          const settings = options.tls();
          const secure = await startUpstreamTls(socket, { name: destination.host.host, isIp: destination.host.kind === 'ip' },
            settings, alpn, options.handshakeTimeoutMs(), resumptionFor(settings));
          return { socket: secure as net.Socket, address };
        } catch (error) {
          socket.destroy();
          throw error;
        }
      });
    };
    const keepWarm = (opened: Promise<Opened>): void => {
      discardWarm();
      // Until a request takes it, nobody else listens on this socket.
      opened.then((ready) => ready.socket.on('error', ignore), ignore);
      const timer = setTimeout(discardWarm, WARM_MS);
      timer.unref();
      warm = { opened, timer };
    };
    /** The connection opened ahead, if still usable; else (closed meanwhile, or it failed) a new one. */
    const takeWarm = (): Promise<Opened> | undefined => {
      if (warm === undefined) return undefined;
      const { opened, timer } = warm;
      warm = undefined;
      clearTimeout(timer);
      return opened.then((ready) => {
        ready.socket.off('error', ignore);
        if (ready.socket.destroyed || !ready.socket.writable || ready.socket.readableEnded) {
          ready.socket.destroy();
          return open(ALPN_H1);
        }
        return ready;
      }, () => open(ALPN_H1));
    };
    const discardWarm = (): void => {
      const taken = warm;
      if (taken === undefined) return;
      warm = undefined;
      clearTimeout(taken.timer);
      taken.opened.then((ready) => ready.socket.destroy(), ignore);
    };
    const connect = (_opts: unknown, callback: (error: Error | null, socket: net.Socket | null) => void): void => {
      started += 1;
      (takeWarm() ?? open(ALPN_H1)).then(({ socket, address }) => {
        last = address;
        callback(null, socket);
      }, (error: Error) => callback(error, null));
    };
    const dispatcher = new Pool(origin, {
      connect: connect as never,
      keepAliveTimeout: options.idleMs,
      keepAliveMaxTimeout: options.idleMs,
      // Limits come from the proxy's own timeouts, set per request.
      headersTimeout: 0,
      bodyTimeout: 0,
      // Responses are relayed as they are; strict framing checks stay on (llhttp, as node:http).
      maxResponseSize: -1,
    });
    /** Opens a connection offering h2: h2 becomes this origin's session, http/1.1 the pool's next connection. */
    const openOfferingH2 = (): Promise<void> => {
      opening ??= open(ALPN_H2).then((opened) => {
        last = opened.address;
        if ((opened.socket as tls.TLSSocket).alpnProtocol === 'h2') {
          started += 1;
          protocol = 'h2';
          h2 = startH2Connection(opened.socket as tls.TLSSocket, authority, options.idleMs, (request, handler) => dispatch(request, handler));
        } else {
          protocol = 'h1';
          keepWarm(Promise.resolve(opened));
        }
      }).finally(() => { opening = undefined; });
      return opening;
    };
    const dispatch = (request: UpstreamRequest, handler: UpstreamHandler, afterOpening = false): void => {
      if (protocol === 'h1') {
        // A literal, not a spread of `request`: V8's generic object clone showed in S1's profile.
        dispatcher.dispatch({
          path: request.path, method: request.method, headers: request.headers, body: request.body,
          headersTimeout: request.headersTimeout, bodyTimeout: request.bodyTimeout,
          idempotent: false, blocking: request.body !== null, reset: false,
        } as never, handler as never);
      } else if (h2?.usable()) {
        h2.dispatch(request, handler);
      } else if (afterOpening) {
        handler.onError(Object.assign(new Error('the HTTP/2 connection closed as it opened'), { code: 'UND_ERR_SOCKET' }));
      } else {
        openOfferingH2().then(() => dispatch(request, handler, true), (error: Error) => handler.onError(error));
      }
    };
    const prewarm = (): void => {
      if (scheme !== 'https') return;
      if (protocol !== 'h1') {
        if (!h2?.usable()) openOfferingH2().catch(ignore);
        return;
      }
      if (warm !== undefined || dispatcher.stats.connected > 0) return;
      keepWarm(open(ALPN_H1));
    };
    const idle = (): boolean => {
      const { connected, pending, running } = dispatcher.stats;
      return connected === 0 && pending === 0 && running === 0 && opening === undefined && !h2?.usable();
    };
    const close = async (): Promise<void> => {
      discardWarm();
      h2?.close();
      await dispatcher.destroy().catch(() => undefined);
    };
    return { dispatch, lastAddress: () => last, connectionsStarted: () => started, prewarm, discardWarm, idle, close };
  };

  const sweep = setInterval(() => {
    for (const [key, pool] of pools) {
      if (pool.idle()) {
        pools.delete(key);
        void pool.close();
      }
    }
  }, SWEEP_MS);
  sweep.unref();

  return {
    poolFor(destination, scheme, way, pinned) {
      const origin = `${scheme}://${formatHostHeader(destination, scheme === 'https' ? 443 : 80)}`;
      const key = `${way.key} ${origin}${pinned && pinned.local ? ` ${pinned.allowed.join(',')}` : ''}`;
      let pool = pools.get(key);
      if (pool === undefined) {
        pool = create(destination, scheme, origin, way, pinned);
        pools.set(key, pool);
      }
      return pool;
    },
    prewarm(destination, way) {
      this.poolFor(destination, 'https', way).prewarm();
    },
    async close() {
      clearInterval(sweep);
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((pool) => pool.close()));
    },
  };
};
