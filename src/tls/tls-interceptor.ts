import http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import type { CanonicalHost } from '../flow/host.js';
import { parseHost } from '../flow/host.js';
import type { FlowTls } from '../flow/flow-record.js';
import { createHttpFront } from '../http/http-front.js';
import { nodeExchange, type ExchangeSide } from '../http/node-exchange.js';
import { upgradeExchange } from '../http/upgrade-relay.js';
import { recordConnectionRefusal } from '../pipeline/connection-refusal.js';
import { enforce } from '../pipeline/decide.js';
import type { TunnelContext } from '../pipeline/identify-request.js';
import { runRequest } from '../pipeline/request-pipeline.js';
import { deny } from '../policy/decision.js';
import type { ProxyRuntime } from '../runtime.js';
import { acceptTls } from './accept-tls.js';
import { clientTlsProfile } from './client-tls-profile.js';
import { describeClientTlsFailure } from './describe-client-tls-failure.js';
import type { ListenerConfig } from '../config/schema.js';
import { http2StreamAdapter } from './http2-stream-adapter.js';
import { createLeafContexts, type LeafSource } from './leaf-contexts.js';

export type { LeafSource } from './leaf-contexts.js';

export interface Interceptor {
  /**
   * Terminates the client's TLS on `client` with a certificate minted for the tunnel's host, then
   * serves every request inside through the request pipeline. The tunnel's flow is finished when
   * the client connection closes.
   */
  intercept(client: net.Socket, head: Buffer, tunnel: TunnelContext): void;
  /** The TLS context (minted leaf, this listener's TLS versions) for a host; cached. */
  contextFor(host: CanonicalHost): Promise<tls.SecureContext>;
  /** Contexts cached / minted, for metrics. */
  stats(): { readonly contexts: number };
  /** Stops the internal request servers' timers. */
  close(): void;
}

/** What the dashboard shows of an intercepted client's TLS. */
const tlsFacts = (secure: tls.TLSSocket, sni: string | undefined): FlowTls => {
  const facts: { -readonly [K in keyof FlowTls]: FlowTls[K] } = { certificate: 'minted' };
  if (sni !== undefined) facts.sni = sni;
  const version = secure.getProtocol();
  if (version) facts.version = version;
  const cipher = secure.getCipher()?.name;
  if (cipher) facts.cipher = cipher;
  if (typeof secure.alpnProtocol === 'string') facts.alpn = secure.alpnProtocol;
  return facts;
};

/** How a request inside a tunnel enters the request pipeline: the tunnel is its source and its client. */
const sideOf = (tunnel: TunnelContext, listener: string): ExchangeSide => ({ source: { kind: 'tunnel', tunnel }, listener, client: tunnel.flow.client });

export const createInterceptor = (runtime: ProxyRuntime, listenerConfig: ListenerConfig, listener: () => string, leaves: () => LeafSource): Interceptor => {
  const contexts = createLeafContexts(runtime.clock, clientTlsProfile(listenerConfig), leaves);
  const tunnels = new WeakMap<object, TunnelContext>();
  const config = runtime.state().config;
  const front = createHttpFront(config, runtime.logger, {
    request: (req, res) => {
      const tunnel = tunnels.get(req.socket);
      if (tunnel) runRequest(runtime, nodeExchange(runtime, req, res, sideOf(tunnel, listener())));
      else res.destroy();
    },
    upgrade: (req, socket, head) => {
      const tunnel = tunnels.get(socket);
      if (tunnel) runRequest(runtime, upgradeExchange(runtime, req, socket, head, sideOf(tunnel, listener())));
      else socket.destroy();
    },
    refused: (socket, refusal) => {
      const tunnel = tunnels.get(socket);
      recordConnectionRefusal(runtime, {
        kind: 'http', connection: { client: tunnel?.flow.client ?? { address: '-', port: 0 }, listener: listener() }, ...refusal,
      });
    },
  });
  // HTTP/2 clients (ALPN h2) get an HTTP/2 server on the decrypted stream; the compat API gives
  // the same request/response shape, so the same pipeline and forwarding code serve both.
  const h2server = http2.createServer({
    maxSessionMemory: 16,
    maxHeaderListPairs: config.limits.max_headers + 4,
    settings: { maxHeaderListSize: config.limits.max_header_bytes },
  });
  const sessions = new WeakMap<http2.Http2Session, TunnelContext>();
  let handingOver: TunnelContext | undefined;
  h2server.on('session', (session: http2.ServerHttp2Session) => {
    if (handingOver) sessions.set(session, handingOver);
    session.setTimeout(config.timeouts.idle, () => session.close());
  });
  h2server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const tunnel = sessions.get(req.stream.session as http2.Http2Session);
    if (!tunnel) {
      res.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    try {
      runRequest(runtime, nodeExchange(runtime, req as never, res as never, sideOf(tunnel, listener())));
    } catch (error) {
      runtime.logger.error({ err: error }, 'HTTP/2 request handler failed');
      res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  });

  const intercept = (client: net.Socket, head: Buffer, tunnel: TunnelContext): void => {
    const { flow, destination } = tunnel;
    const expected = destination.host;
    if (head.length > 0) client.unshift(head);
    client.pause();
    contexts.contextFor(expected).then((context) => {
      if (client.destroyed) {
        flow.clientLeft();
        flow.finished(runtime.clock.now());
        return;
      }
      let sniRefused = false;
      acceptTls(client, {
        secureContext: context,
        ALPNProtocols: ['h2', 'http/1.1'],
        SNICallback: (servername, callback) => {
          flow.sawSni(servername);
          const named = parseHost(servername);
          // An IP-literal tunnel has no name to compare; a named tunnel must be asked for by that name.
          if (expected.kind === 'name' && (!named.ok || named.value.host !== expected.host)) {
            const decision = deny('sni-mismatch', flow.decidingRule, `TLS SNI "${servername}" does not match the CONNECT host ${expected.host}`);
            if (!enforce(runtime, flow, decision, `${expected.host}:${destination.port}`).pass) {
              sniRefused = true;
              callback(new Error('SNI does not match the CONNECT host'), undefined);
              return;
            }
          }
          callback(null, context);
        },
      }, config.timeouts.client_hello, {
        secure: (established) => {
          flow.clientTlsEstablished(tlsFacts(established, flow.sni));
          established.once('close', () => {
            flow.transferred(client.bytesRead, client.bytesWritten);
            flow.finished(runtime.clock.now());
          });
          if (established.alpnProtocol === 'h2') {
            handingOver = tunnel;
            h2server.emit('connection', http2StreamAdapter(established));
            handingOver = undefined;
            return;
          }
          tunnels.set(established, tunnel);
          front.serve(established);
        },
        failed: (problem) => {
          if (!sniRefused && flow.failure === undefined) {
            flow.failed({ code: 'PCL_ERR_CLIENT_TLS', message: describeClientTlsFailure(problem, listenerConfig) });
          }
          flow.transferred(client.bytesRead, client.bytesWritten);
          flow.finished(runtime.clock.now());
        },
      });
      client.resume();
    }, (error: Error) => {
      flow.failed({ code: 'PCL_ERR_CLIENT_TLS', message: `cannot mint a certificate for ${expected.host}: ${error.message}` });
      client.destroy();
      flow.finished(runtime.clock.now());
    });
  };

  return {
    intercept,
    contextFor: contexts.contextFor,
    stats: () => ({ contexts: contexts.size() }),
    close: () => {
      front.close();
      h2server.close(() => {});
    },
  };
};
