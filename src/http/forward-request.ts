import type http from 'node:http';
import { whenResponseClosed } from './when-response-closed.js';
import { formatHostHeader, parseAbsoluteTarget, parseAuthority, type Destination } from '../flow/destination.js';
import { clientIpOf } from '../flow/client-address.js';
import { createFlowBuilder, type FlowBuilder } from '../flow/flow-builder.js';
import { redactHeaderObject, redactHeaders } from '../flow/redact-headers.js';
import { deny, type Decision } from '../policy/decision.js';
import type { ProxyRuntime } from '../runtime.js';
import { denyResponse, errorResponse, type SyntheticResponse } from './deny-response.js';
import { enforceDecision } from './enforce-decision.js';
import { forwardUpstream } from './forward-upstream.js';
import { helpPage } from './help-page.js';
import { CA_DOWNLOAD_HOST, caDownload } from './ca-download.js';
import { countHeader } from './raw-headers.js';
import { sendSynthetic } from './send-synthetic.js';
import { afterAuthentication, authenticateClient } from './authenticate-client.js';

export interface ListenerInfo {
  /** "address:port" the listener is bound to. */
  readonly id: string;
  readonly mode: 'explicit' | 'transparent-http' | 'transparent-tls';
}

export const sameDestination = (a: Destination, b: Destination): boolean => a.host.host === b.host.host && a.port === b.port;

/**
 * RFC 9112 says a proxy replaces the Host of an absolute-form request with the URL's authority,
 * and Portcullis does. A Host naming a third party is still refused: no legitimate client sends
 * one, and an origin behind a shared address might route by it. A Host naming the proxy itself
 * (what some HTTP libraries send) is harmless and accepted.
 */
const hostHeaderAgrees = (value: string, destination: Destination, defaultPort: number, req: http.IncomingMessage): boolean => {
  // The usual case, a Host already in canonical form, needs no parsing: canonical text parses to itself.
  if (value === formatHostHeader(destination, defaultPort)) return true;
  const fromHeader = parseAuthority(value, defaultPort);
  if (!fromHeader.ok) return false;
  if (sameDestination(fromHeader.value, destination)) return true;
  const local = parseAuthority(`${req.socket.localAddress?.includes(':') ? `[${req.socket.localAddress}]` : req.socket.localAddress}:${req.socket.localPort}`);
  return local.ok && sameDestination(fromHeader.value, local.value);
};

/** What to do with one request: forward it to a checked destination, or answer it here. */
export type RequestRoute =
  | { readonly kind: 'forward'; readonly destination: Destination; readonly scheme: 'http' | 'https'; readonly pathAndQuery: string }
  | { readonly kind: 'answer'; readonly response: SyntheticResponse };

/**
 * Parses and judges an absolute-form request (`GET http://host/path`), recording the facts and
 * the decision on the flow. Shared by plain requests and WebSocket upgrades.
 */
export const routeExplicitRequest = (runtime: ProxyRuntime, listener: ListenerInfo, req: http.IncomingMessage, flow: FlowBuilder): RequestRoute => {
  const target = req.url ?? '';
  const method = req.method ?? 'GET';
  const tooMany = checkHeaderCount(runtime, req, flow);
  if (tooMany) return tooMany;
  if (target.startsWith('/') || target === '*') {
    // Sent to the proxy as if it were a web server: the CA download or the help page.
    const ca = /^\/ca\.(pem|crt|der|cer)(\?|$)/.test(target) ? caDownload(target, runtime.ca()) : undefined;
    Object.assign(flow.fields, ca ? { verdict: 'allow', reason: 'ca-download' } : { verdict: 'deny', reason: 'not-a-proxy-request' });
    return { kind: 'answer', response: ca ?? helpPage(listener.id) };
  }
  const parsed = parseAbsoluteTarget(target);
  if (!parsed.ok) {
    const decision = deny(parsed.reason, undefined, parsed.error);
    Object.assign(flow.fields, { verdict: 'deny', reason: decision.reason, detail: parsed.error });
    return {
      kind: 'answer',
      response: parsed.reason === 'userinfo-in-url' ? denyResponse(target, decision) : errorResponse(400, 'http_request_error', parsed.reason, parsed.error),
    };
  }
  const { destination, scheme, pathAndQuery } = parsed.value;
  flow.fields.host = destination.host.host;
  flow.fields.port = destination.port;
  const defaultPort = scheme === 'https' ? 443 : 80;
  if (destination.host.host === CA_DOWNLOAD_HOST) {
    Object.assign(flow.fields, { verdict: 'allow', reason: 'ca-download' });
    return { kind: 'answer', response: caDownload(pathAndQuery, runtime.ca()) };
  }
  const host = countHeader(req.rawHeaders, 'host');
  let decision: Decision;
  if (host.count > 1) {
    decision = deny('host-mismatch', undefined, 'more than one Host header');
  } else if (host.value !== undefined && !hostHeaderAgrees(host.value, destination, defaultPort, req)) {
    decision = deny('host-mismatch', undefined, `Host header "${host.value}" does not name the URL's host ${formatHostHeader(destination, defaultPort)}`);
  } else {
    // An https:// URL in a plain request is fetched over TLS by the proxy: the whole URL is
    // visible, so it is judged as a request inside TLS (default port 443).
    decision = runtime.state().policy.decideRequest({
      destination, clientIp: flow.base.client.address,
      transport: scheme === 'https' ? 'tls' : 'http', method, pathAndQuery, ...(flow.fields.user ? { user: flow.fields.user } : {}),
    });
  }
  const denied = enforceDecision(runtime, flow, decision);
  if (denied) return { kind: 'answer', response: denyResponse(target, denied) };
  return { kind: 'forward', destination, scheme, pathAndQuery };
};

/** More header fields than limits.max_headers: 431, before any decision. */
export const checkHeaderCount = (runtime: ProxyRuntime, req: http.IncomingMessage, flow: FlowBuilder): RequestRoute | undefined => {
  const max = runtime.state().config.limits.max_headers;
  const count = req.rawHeaders.length / 2;
  if (count <= max) return undefined;
  const detail = `${count} header fields, more than limits.max_headers (${max})`;
  Object.assign(flow.fields, { verdict: 'deny', reason: 'headers-too-large', detail });
  return { kind: 'answer', response: errorResponse(431, 'http_request_header_section_size', 'headers-too-large', detail) };
};

/** A flow for one request on the explicit listener. */
export const explicitRequestFlow = (runtime: ProxyRuntime, listener: ListenerInfo, req: http.IncomingMessage): FlowBuilder => {
  const flow = createFlowBuilder({
    id: runtime.nextFlowId(), kind: 'http', startedAt: runtime.clock.now(), listener: listener.id, method: req.method ?? 'GET',
    url: req.url ?? '', host: '-', port: 0, client: { address: clientIpOf(req.socket.remoteAddress), port: req.socket.remotePort ?? 0 },
  }, (record) => runtime.recordFlow(record));
  flow.fields.requestHeaders = redactHeaders(req.rawHeaders);
  return flow;
};

/** Sends a response made by the proxy itself, noting its headers on the flow. */
export const answerRequest = (res: http.ServerResponse, flow: FlowBuilder, response: SyntheticResponse): void => {
  flow.fields.responseHeaders = redactHeaderObject(response.headers);
  sendSynthetic(res, response);
};

/**
 * Handles one HTTP request that arrived in absolute form (`GET http://host/path`): parse,
 * decide, then stream it to the origin and the answer back, both with backpressure.
 */
export const createForwardRequestHandler = (runtime: ProxyRuntime, listener: ListenerInfo) =>
  (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const flow = explicitRequestFlow(runtime, listener, req);
    finishWithResponse(runtime, flow, res);
    afterAuthentication(authenticateClient(runtime, req, flow), (auth) => {
      if (!auth.ok) {
        answerRequest(res, flow, auth.response);
        return;
      }
      const route = routeExplicitRequest(runtime, listener, req, flow);
      if (route.kind === 'answer') {
        answerRequest(res, flow, route.response);
        return;
      }
      continueIfExpected(req, res);
      forwardUpstream(runtime, req, res, flow, route.destination, route.pathAndQuery, route.scheme);
    });
  };

/**
 * `Expect: 100-continue` is answered only once the request is allowed (the server's
 * 'checkContinue' event routes here), so a denied client never sends its body.
 */
export const continueIfExpected = (req: http.IncomingMessage, res: http.ServerResponse): void => {
  if ((req.headers.expect ?? '').toLowerCase() === '100-continue' && req.httpVersionMajor === 1) res.writeContinue();
};

/** Finishes the flow when the response closes, noting a client that left before the end. */
export const finishWithResponse = (runtime: ProxyRuntime, flow: FlowBuilder, res: http.ServerResponse): void => {
  whenResponseClosed(res, () => {
    flow.fields.status = res.headersSent ? res.statusCode : 0;
    if (!res.writableFinished && flow.fields.errorCode === undefined) flow.fields.errorCode = 'PCL_ERR_CLIENT_ABORTED';
    flow.finish(runtime.clock.now());
  });
};
