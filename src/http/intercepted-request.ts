import type http from 'node:http';
import { formatHostHeader, parseAbsoluteTarget, parseAuthority, type Destination } from '../flow/destination.js';
import { createFlowBuilder, type FlowBuilder } from '../flow/flow-builder.js';
import type { FlowTls } from '../flow/flow-record.js';
import { redactHeaders } from '../flow/redact-headers.js';
import { deny, type Decision } from '../policy/decision.js';
import type { ProxyRuntime } from '../runtime.js';
import { denyResponse, errorResponse } from './deny-response.js';
import { enforceDecision } from './enforce-decision.js';
import { forwardUpstream } from './forward-upstream.js';
import { answerRequest, checkHeaderCount, continueIfExpected, finishWithResponse, sameDestination, type ListenerInfo, type RequestRoute } from './forward-request.js';
import { headerValues } from './raw-headers.js';
import { sendSynthetic } from './send-synthetic.js';

/** The CONNECT tunnel an intercepted request arrived through. */
export interface TunnelContext {
  readonly flowId: string;
  readonly destination: Destination;
  readonly client: { readonly address: string; readonly port: number };
  /** The client's TLS, once the handshake is done. */
  readonly tls?: FlowTls;
  /** The proxy user who opened the tunnel, when authentication is on. */
  readonly user?: string;
}

/** Finds which tunnel `req` arrived through (kept in a WeakMap by the interceptor). */
export type TunnelLookup = (req: http.IncomingMessage) => TunnelContext | undefined;

/** "https://host[:port]" of a tunnel, for full URLs in logs and 403 bodies. */
export const tunnelOrigin = (destination: Destination): string => `https://${formatHostHeader(destination, 443)}`;

/**
 * Judges one request decrypted from an intercepted tunnel. The destination is the tunnel's:
 * the Host header (or an absolute URL) must name the same host and port, so a client cannot
 * open a tunnel to an allowed host and then ask it for another one (domain fronting).
 */
export const routeInterceptedRequest = (runtime: ProxyRuntime, tunnel: TunnelContext, req: http.IncomingMessage, flow: FlowBuilder): RequestRoute => {
  const tooMany = checkHeaderCount(runtime, req, flow);
  if (tooMany) return tooMany;
  const { destination } = tunnel;
  const target = req.url ?? '';
  let pathAndQuery = target;
  let decision: Decision | undefined;
  if (!target.startsWith('/')) {
    const absolute = parseAbsoluteTarget(target);
    if (!absolute.ok || absolute.value.scheme !== 'https' || !sameDestination(absolute.value.destination, destination)) {
      decision = deny('host-mismatch', undefined, `request target "${target}" is not on the tunnel's host ${formatHostHeader(destination, 443)}`);
    } else {
      pathAndQuery = absolute.value.pathAndQuery;
      flow.fields.url = `${tunnelOrigin(destination)}${pathAndQuery}`;
    }
  }
  if (decision === undefined) {
    // HTTP/1.1 names the host in Host; HTTP/2 in :authority, and a Host alongside must agree.
    const names = [...headerValues(req.rawHeaders, 'host'), ...headerValues(req.rawHeaders, ':authority')];
    const http1 = req.httpVersionMajor < 2;
    if (names.length === 0 || (http1 && names.length !== 1)) {
      decision = deny('host-mismatch', undefined, names.length === 0 ? 'request names no host (Host or :authority)' : 'more than one Host header');
    } else {
      const wrong = names.find((value) => {
        const named = parseAuthority(value, 443);
        return !named.ok || !sameDestination(named.value, destination);
      });
      if (wrong !== undefined) {
        decision = deny('host-mismatch', undefined, `request host "${wrong}" is not the tunnel's host ${formatHostHeader(destination, 443)}`);
      }
    }
  }
  decision ??= runtime.state().policy.decideRequest({
    destination, clientIp: tunnel.client.address, transport: 'tls', method: req.method ?? 'GET', pathAndQuery,
    ...(tunnel.user ? { user: tunnel.user } : {}),
  });
  const denied = enforceDecision(runtime, flow, decision);
  if (denied) return { kind: 'answer', response: denyResponse(flow.fields.url ?? target, denied) };
  return { kind: 'forward', destination, scheme: 'https', pathAndQuery };
};

/** A flow for one request inside a tunnel, child of the tunnel's flow. */
export const interceptedRequestFlow = (runtime: ProxyRuntime, listener: ListenerInfo, tunnel: TunnelContext, req: http.IncomingMessage): FlowBuilder => {
  const target = req.url ?? '';
  const flow = createFlowBuilder({
    id: runtime.nextFlowId(), parentId: tunnel.flowId, kind: 'http', startedAt: runtime.clock.now(), listener: listener.id, method: req.method ?? 'GET',
    url: `${tunnelOrigin(tunnel.destination)}${target.startsWith('/') ? target : ''}`,
    host: tunnel.destination.host.host, port: tunnel.destination.port, client: tunnel.client,
  }, (record) => runtime.recordFlow(record));
  flow.fields.requestHeaders = redactHeaders(req.rawHeaders);
  if (tunnel.tls !== undefined) flow.fields.tls = tunnel.tls;
  if (tunnel.user !== undefined) flow.fields.user = tunnel.user;
  return flow;
};

export const createInterceptedRequestHandler = (runtime: ProxyRuntime, listener: ListenerInfo, tunnelOf: TunnelLookup) =>
  (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const tunnel = tunnelOf(req);
    if (!tunnel) {
      sendSynthetic(res, errorResponse(500, 'proxy_internal_error', 'no-tunnel', 'request arrived on an unknown intercepted connection'), true);
      return;
    }
    const flow = interceptedRequestFlow(runtime, listener, tunnel, req);
    finishWithResponse(runtime, flow, res);
    const route = routeInterceptedRequest(runtime, tunnel, req, flow);
    if (route.kind === 'answer') {
      answerRequest(res, flow, route.response);
      return;
    }
    continueIfExpected(req, res);
    forwardUpstream(runtime, req, res, flow, route.destination, route.pathAndQuery, route.scheme);
  };

/** 400 for a malformed request inside a tunnel. */
export const interceptedBadRequest = (code: string): ReturnType<typeof errorResponse> =>
  errorResponse(400, 'http_request_error', 'malformed-request', code);
