import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import type { CanonicalHost } from '../flow/host.js';
import { parseHost } from '../flow/host.js';
import type { FlowBuilder } from '../flow/flow-builder.js';
import type { FlowTls } from '../flow/flow-record.js';
import type { ListenerInfo } from '../http/forward-request.js';
import {
  createInterceptedRequestHandler, interceptedBadRequest, interceptedRequestFlow, routeInterceptedRequest, type TunnelContext,
} from '../http/intercepted-request.js';
import { answerUpgrade, relayUpgrade } from '../http/upgrade-relay.js';
import { errorResponse, serializeResponse } from '../http/deny-response.js';
import { containConnectErrors, containRequestErrors } from '../http/contain-handler-errors.js';
import type { ProxyRuntime } from '../runtime.js';
import type { ClientTlsProfile } from './client-tls-profile.js';
import { LruCache } from './lru-cache.js';
import { http2StreamAdapter } from './http2-stream-adapter.js';

/** Where minted leaf certificates come from (the CertificateAuthority). */
export interface LeafSource {
  leafFor(host: CanonicalHost): Promise<{ readonly certPem: string; readonly keyPem: string; readonly notAfter: Date }>;
}

export interface Interceptor {
  /**
   * Terminates the client's TLS on `client` with a certificate minted for the tunnel's host,
   * then serves every request inside through the policy. `flow` is the tunnel's flow; it is
   * finished when the client connection closes.
   */
  intercept(client: net.Socket, head: Buffer, tunnel: TunnelContext, flow: FlowBuilder): void;
  /** The TLS context (minted leaf, this listener's TLS versions) for a host; cached. */
  contextFor(host: CanonicalHost): Promise<tls.SecureContext>;
  /** Contexts cached / minted, for metrics. */
  stats(): { readonly contexts: number };
  /** Stops the internal request server's timers. */
  close(): void;
}

const MAX_CONTEXTS = 1000;

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
const RENEW_BEFORE_MS = 24 * 3600 * 1000;

export const createInterceptor = (runtime: ProxyRuntime, listener: ListenerInfo, profile: ClientTlsProfile, leaves: () => LeafSource): Interceptor => {
  // Secure contexts carry this listener's TLS version range, so they are cached per listener.
  const contexts = new LruCache<string, Promise<{ context: tls.SecureContext; notAfter: number }>>(MAX_CONTEXTS);
  const tunnels = new WeakMap<net.Socket, TunnelContext>();
  const contextFor = async (host: CanonicalHost): Promise<tls.SecureContext> => {
    const cached = contexts.get(host.host);
    if (cached) {
      const entry = await cached;
      // The CA renews a leaf a day before it expires; follow it.
      if (entry.notAfter - runtime.clock.now() > RENEW_BEFORE_MS) return entry.context;
      contexts.delete(host.host);
    }
    const created = leaves().leafFor(host).then((leaf) => ({
      notAfter: leaf.notAfter.getTime(),
      context: tls.createSecureContext({
        cert: leaf.certPem, key: leaf.keyPem, minVersion: profile.minVersion, maxVersion: profile.maxVersion,
        ...(profile.ciphers ? { ciphers: profile.ciphers } : {}),
      }),
    }));
    created.catch(() => contexts.delete(host.host));
    contexts.set(host.host, created);
    return (await created).context;
  };

  const timeouts = runtime.state().config.timeouts;
  const server = http.createServer({
    requireHostHeader: false, keepAliveTimeout: timeouts.idle, headersTimeout: timeouts.client_headers, requestTimeout: 0,
    connectionsCheckingInterval: Math.max(250, Math.min(5000, timeouts.client_headers / 4)),
    maxHeaderSize: runtime.state().config.limits.max_header_bytes,
  });
  // Never listens: connections are handed over; 'listening' starts the headersTimeout checks.
  server.emit('listening');
  const onRequest = containRequestErrors(runtime.logger, createInterceptedRequestHandler(runtime, listener, (req) => tunnels.get(req.socket)));
  server.on('request', onRequest);
  server.on('checkContinue', onRequest);
  server.on('upgrade', containConnectErrors(runtime.logger, (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const tunnel = tunnels.get(socket);
    if (!tunnel) {
      socket.destroy();
      return;
    }
    const flow = interceptedRequestFlow(runtime, listener, tunnel, req);
    const route = routeInterceptedRequest(runtime, tunnel, req, flow);
    if (route.kind === 'answer') answerUpgrade(runtime, socket, flow, route.response);
    else void relayUpgrade(runtime, req, socket, head, flow, route.destination, route.pathAndQuery, route.scheme);
  }));
  // HTTP/2 clients (ALPN h2) get an HTTP/2 server on the decrypted stream; the compat API gives
  // the same request/response shape, so the same route and forwarding code serve both.
  const h2server = http2.createServer({
    maxSessionMemory: 16,
    maxHeaderListPairs: runtime.state().config.limits.max_headers + 4,
    settings: { maxHeaderListSize: runtime.state().config.limits.max_header_bytes },
  });
  const sessions = new WeakMap<http2.Http2Session, TunnelContext>();
  let handingOver: TunnelContext | undefined;
  h2server.on('session', (session: http2.ServerHttp2Session) => {
    if (handingOver) sessions.set(session, handingOver);
    session.setTimeout(timeouts.idle, () => session.close());
  });
  h2server.on('request', containRequestErrors(runtime.logger, createInterceptedRequestHandler(runtime, listener,
    (req) => sessions.get((req as unknown as http2.Http2ServerRequest).stream.session as http2.Http2Session))) as never);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_HEADERS_TIMEOUT' ? 408 : 400;
    socket.end(serializeResponse(status === 400 ? interceptedBadRequest(error.code ?? 'parse error')
      : errorResponse(status, status === 431 ? 'http_request_header_section_size' : 'http_request_error',
        status === 431 ? 'headers-too-large' : 'request-timeout', error.code ?? '')));
  });

  return {
    stats: () => ({ contexts: contexts.size }),
    contextFor,
    close: () => {
      server.close(() => {});
      h2server.close(() => {});
    },
    intercept(client, head, tunnel, flow) {
      const expected = tunnel.destination.host;
      flow.fields.tunnelMode = 'intercept';
      if (head.length > 0) client.unshift(head);
      client.pause();
      contextFor(expected).then((context) => {
        if (client.destroyed) {
          flow.finish(runtime.clock.now());
          return;
        }
        const secure = new tls.TLSSocket(client, {
          isServer: true,
          secureContext: context,
          ALPNProtocols: ['h2', 'http/1.1'],
          SNICallback: (servername, callback) => {
            flow.fields.sni = servername;
            const named = parseHost(servername);
            // An IP-literal tunnel has no name to compare; a named tunnel must be asked for by that name.
            if (expected.kind === 'name' && (!named.ok || named.value.host !== expected.host)) {
              Object.assign(flow.fields, {
                verdict: 'deny', reason: 'sni-mismatch', detail: `TLS SNI "${servername}" does not match the CONNECT host ${expected.host}`,
              });
              callback(new Error('SNI does not match the CONNECT host'), undefined);
              return;
            }
            callback(null, context);
          },
        });
        secure.once('secure', () => {
          flow.fields.tls = tlsFacts(secure, flow.fields.sni);
          const withTls: TunnelContext = Object.assign({}, tunnel, { tls: flow.fields.tls });
          if (secure.alpnProtocol === 'h2') {
            handingOver = withTls;
            h2server.emit('connection', http2StreamAdapter(secure));
            handingOver = undefined;
            return;
          }
          tunnels.set(secure, withTls);
          server.emit('connection', secure);
        });
        secure.on('error', (error: NodeJS.ErrnoException) => {
          if (flow.fields.errorCode === undefined && flow.fields.reason !== 'sni-mismatch') {
            flow.fields.errorCode = 'PCL_ERR_CLIENT_TLS';
            flow.fields.detail = `client TLS failed: ${error.code ?? ''} ${error.message}`.trim();
          }
          secure.destroy();
        });
        secure.once('close', () => {
          flow.fields.bytesUp = client.bytesRead;
          flow.fields.bytesDown = client.bytesWritten;
          flow.finish(runtime.clock.now());
        });
        client.resume();
      }, (error: Error) => {
        flow.fields.errorCode = 'PCL_ERR_CLIENT_TLS';
        flow.fields.detail = `cannot mint a certificate for ${expected.host}: ${error.message}`;
        client.destroy();
        flow.finish(runtime.clock.now());
      });
    },
  };
};
