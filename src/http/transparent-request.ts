import type http from 'node:http';
import { formatHostHeader, parseAbsoluteTarget, parseAuthority, type Destination } from '../flow/destination.js';
import { clientIpOf } from '../flow/client-address.js';
import { createFlowBuilder, type FlowBuilder } from '../flow/flow-builder.js';
import { deny, type Decision } from '../policy/decision.js';
import type { ProxyRuntime } from '../runtime.js';
import { formatOriginalDestination, type OriginalDestination } from '../net/original-destination.js';
import type { OriginalDestinationVerifier } from '../net/verify-original-destination.js';
import { CA_DOWNLOAD_HOST, caDownload } from './ca-download.js';
import { denyResponse, errorResponse } from './deny-response.js';
import { enforceDecision } from './enforce-decision.js';
import { continueIfExpected, finishWithResponse, type ListenerInfo, type RequestRoute } from './forward-request.js';
import { forwardUpstream } from './forward-upstream.js';
import { countHeader } from './raw-headers.js';
import { sendSynthetic } from './send-synthetic.js';

/** What a transparent HTTP request handler knows of the connection it arrived on. */
export interface TransparentHttpContext {
  /** SO_ORIGINAL_DST of the request's connection; undefined when unknown or not redirected. */
  originalDestination(req: http.IncomingMessage): OriginalDestination | undefined;
  readonly verify: OriginalDestinationVerifier;
}

/** A flow for one request on a transparent-http listener. */
export const transparentRequestFlow = (
  runtime: ProxyRuntime, listener: ListenerInfo, req: http.IncomingMessage, original: OriginalDestination | undefined,
): FlowBuilder => {
  const flow = createFlowBuilder({
    id: runtime.nextFlowId(), kind: 'http', startedAt: runtime.clock.now(), listener: listener.id, method: req.method ?? 'GET',
    url: req.url ?? '', host: '-', port: 0, client: { address: clientIpOf(req.socket.remoteAddress), port: req.socket.remotePort ?? 0 },
  }, (record) => runtime.recordFlow(record));
  if (original !== undefined) flow.fields.originalDestination = formatOriginalDestination(original);
  return flow;
};

const badRequest = (flow: FlowBuilder, reason: 'invalid-destination' | 'host-mismatch', detail: string): RequestRoute => {
  Object.assign(flow.fields, { verdict: 'deny', reason, detail });
  return { kind: 'answer', response: errorResponse(400, 'http_request_error', reason, detail) };
};

/**
 * Judges a request that reached a transparent-http listener (the client thinks it talks to the
 * origin). The destination is the Host header: its port, else the port the client dialed
 * (original destination), else 80. The Host name is what the policy judges and what is dialed
 * (resolved once, address checked); with verify_original_destination it must also resolve to
 * the address the client dialed. An absolute-form target is accepted when Host agrees with it.
 */
export const routeTransparentRequest = async (
  runtime: ProxyRuntime, req: http.IncomingMessage, flow: FlowBuilder, context: TransparentHttpContext,
): Promise<RequestRoute> => {
  const original = context.originalDestination(req);
  const target = req.url ?? '';
  const defaultPort = original?.port ?? 80;
  const host = countHeader(req.rawHeaders, 'host');
  if (host.count > 1) return badRequest(flow, 'host-mismatch', 'more than one Host header');

  let destination: Destination;
  let pathAndQuery: string;
  if (target.startsWith('/')) {
    if (host.value === undefined || host.value === '') {
      return badRequest(flow, 'invalid-destination', 'no Host header: a transparent listener takes the destination from Host');
    }
    const parsed = parseAuthority(host.value, defaultPort);
    if (!parsed.ok) {
      if (parsed.reason === 'userinfo-in-url') {
        const decision = deny(parsed.reason, undefined, parsed.error);
        Object.assign(flow.fields, { verdict: 'deny', reason: decision.reason, detail: parsed.error });
        return { kind: 'answer', response: denyResponse(host.value, decision) };
      }
      return badRequest(flow, 'invalid-destination', `Host header "${host.value}": ${parsed.error}`);
    }
    destination = parsed.value;
    pathAndQuery = target;
  } else {
    const absolute = parseAbsoluteTarget(target);
    if (!absolute.ok || absolute.value.scheme !== 'http') {
      return badRequest(flow, 'invalid-destination', absolute.ok ? 'a transparent HTTP listener does not fetch https:// URLs' : absolute.error);
    }
    destination = absolute.value.destination;
    pathAndQuery = absolute.value.pathAndQuery;
    if (host.value !== undefined) {
      const named = parseAuthority(host.value, 80);
      if (!named.ok || named.value.host.host !== destination.host.host || named.value.port !== destination.port) {
        return badRequest(flow, 'host-mismatch', `Host header "${host.value}" does not name the URL's host ${formatHostHeader(destination, 80)}`);
      }
    }
  }
  Object.assign(flow.fields, {
    host: destination.host.host, port: destination.port, url: `http://${formatHostHeader(destination, 80)}${pathAndQuery}`,
  });
  if (destination.host.host === CA_DOWNLOAD_HOST) {
    Object.assign(flow.fields, { verdict: 'allow', reason: 'ca-download' });
    return { kind: 'answer', response: caDownload(pathAndQuery, runtime.ca()) };
  }

  let decision: Decision = runtime.state().policy.decideRequest({
    destination, clientIp: flow.fields.client?.address ?? clientIpOf(req.socket.remoteAddress),
    transport: 'http', method: req.method ?? 'GET', pathAndQuery,
  });
  if (decision.verdict === 'allow') {
    const mismatch = await context.verify(destination, original);
    if (mismatch !== undefined) decision = { ...mismatch, rule: decision.rule };
  }
  const denied = enforceDecision(runtime, flow, decision);
  if (denied) return { kind: 'answer', response: denyResponse(flow.fields.url ?? target, denied) };
  return { kind: 'forward', destination, scheme: 'http', pathAndQuery };
};

/** Handles one request on a transparent-http listener: judge, then forward to the checked address of the Host name. */
export const createTransparentRequestHandler = (runtime: ProxyRuntime, listener: ListenerInfo, context: TransparentHttpContext) =>
  (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const flow = transparentRequestFlow(runtime, listener, req, context.originalDestination(req));
    finishWithResponse(runtime, flow, res);
    void routeTransparentRequest(runtime, req, flow, context).then((route) => {
      if (res.destroyed) return;
      if (route.kind === 'answer') {
        sendSynthetic(res, route.response);
        return;
      }
      continueIfExpected(req, res);
      forwardUpstream(runtime, req, res, flow, route.destination, route.pathAndQuery, route.scheme);
    }, (error: unknown) => {
      runtime.logger.error({ err: error, url: req.url }, 'transparent request handler failed');
      if (!res.headersSent) sendSynthetic(res, errorResponse(500, 'proxy_internal_error', 'internal-error', (error as Error).message), true);
      else res.destroy();
    });
  };
