import type http from 'node:http';
import { formatHostHeader, parseAbsoluteTarget, parseAuthority, type Destination } from '../flow/destination.js';
import { createFlowBuilder } from '../flow/flow-builder.js';
import { deny, type Decision } from '../policy/decision.js';
import type { ProxyRuntime } from '../runtime.js';
import { denyResponse, errorResponse } from './deny-response.js';
import { enforceDecision } from './enforce-decision.js';
import { forwardUpstream } from './forward-upstream.js';
import { sameDestination, type ListenerInfo } from './forward-request.js';
import { countHeader } from './raw-headers.js';
import { sendSynthetic } from './send-synthetic.js';

/** The CONNECT tunnel an intercepted request arrived through. */
export interface TunnelContext {
  readonly flowId: string;
  readonly destination: Destination;
  readonly client: { readonly address: string; readonly port: number };
}

/** Finds which tunnel `req` arrived through (kept in a WeakMap by the interceptor). */
export type TunnelLookup = (req: http.IncomingMessage) => TunnelContext | undefined;

/** "https://host[:port]" of a tunnel, for full URLs in logs and 403 bodies. */
export const tunnelOrigin = (destination: Destination): string => `https://${formatHostHeader(destination, 443)}`;

/**
 * Handles one request decrypted from an intercepted tunnel. The destination is the tunnel's:
 * the Host header (or an absolute URL) must name the same host and port, so a client cannot
 * open a tunnel to an allowed host and then ask it for another one (domain fronting).
 */
export const createInterceptedRequestHandler = (runtime: ProxyRuntime, listener: ListenerInfo, tunnelOf: TunnelLookup) =>
  (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const tunnel = tunnelOf(req);
    const method = req.method ?? 'GET';
    const target = req.url ?? '';
    if (!tunnel) {
      sendSynthetic(res, errorResponse(500, 'proxy_internal_error', 'no-tunnel', 'request arrived on an unknown intercepted connection'), true);
      return;
    }
    const { destination } = tunnel;
    const flow = createFlowBuilder({
      id: runtime.nextFlowId(), parentId: tunnel.flowId, kind: 'http', startedAt: runtime.clock.now(), listener: listener.id, method,
      url: `${tunnelOrigin(destination)}${target.startsWith('/') ? target : ''}`,
      host: destination.host.host, port: destination.port, client: tunnel.client,
    }, (record) => runtime.recordFlow(record));
    res.once('close', () => {
      flow.fields.status = res.headersSent ? res.statusCode : 0;
      if (!res.writableFinished && flow.fields.errorCode === undefined) flow.fields.errorCode = 'PCL_ERR_CLIENT_ABORTED';
      flow.finish(runtime.clock.now());
    });

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
    const host = countHeader(req.rawHeaders, 'host');
    if (decision === undefined) {
      if (host.count !== 1 || host.value === undefined) {
        decision = deny('host-mismatch', undefined, host.count === 0 ? 'request has no Host header' : 'more than one Host header');
      } else {
        const named = parseAuthority(host.value, 443);
        if (!named.ok || !sameDestination(named.value, destination)) {
          decision = deny('host-mismatch', undefined, `Host "${host.value}" is not the tunnel's host ${formatHostHeader(destination, 443)}`);
        }
      }
    }
    decision ??= runtime.state().policy.decideRequest({
      destination, clientIp: tunnel.client.address, transport: 'tls', method, pathAndQuery,
    });
    const denied = enforceDecision(runtime, flow, decision);
    if (denied) {
      sendSynthetic(res, denyResponse(flow.fields.url ?? target, denied));
      return;
    }
    forwardUpstream(runtime, req, res, flow, destination, pathAndQuery, 'https');
  };

/** 400 for a malformed request inside a tunnel. */
export const interceptedBadRequest = (code: string): ReturnType<typeof errorResponse> =>
  errorResponse(400, 'http_request_error', 'malformed-request', code);
