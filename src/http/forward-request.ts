import http from 'node:http';
import { formatHostHeader, parseAbsoluteTarget, parseAuthority, type Destination } from '../flow/destination.js';
import { clientIpOf } from '../flow/client-address.js';
import { createFlowBuilder, type FlowBuilder } from '../flow/flow-builder.js';
import { PortcullisError, isPortcullisError } from '../errors.js';
import { deny, type Decision, type DenyDecision } from '../policy/decision.js';
import type { DialingAgent, DialingRequestOptions } from '../net/dialing-agent.js';
import type { ProxyRuntime } from '../runtime.js';
import { denyResponse, errorResponse } from './deny-response.js';
import { helpPage } from './help-page.js';
import { stripHopByHop } from './hop-by-hop.js';
import { upstreamFailure } from './proxy-status.js';
import { sendSynthetic } from './send-synthetic.js';

const DROP_HOST = new Set(['host']);
const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);

export interface ListenerInfo {
  /** "address:port" the listener is bound to. */
  readonly id: string;
  readonly mode: 'explicit' | 'transparent-http' | 'transparent-tls';
}

const countHeader = (rawHeaders: readonly string[], lowerName: string): { count: number; value?: string } => {
  let count = 0;
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] ?? '').toLowerCase() === lowerName) {
      count += 1;
      value ??= rawHeaders[i + 1];
    }
  }
  return value === undefined ? { count } : { count, value };
};

const sameDestination = (a: Destination, b: Destination): boolean => a.host.host === b.host.host && a.port === b.port;

/**
 * RFC 9112 says a proxy replaces the Host of an absolute-form request with the URL's authority,
 * and Portcullis does. A Host naming a third party is still refused: no legitimate client sends
 * one, and an origin behind a shared address might route by it. A Host naming the proxy itself
 * (what some HTTP libraries send) is harmless and accepted.
 */
const hostHeaderAgrees = (value: string, destination: Destination, defaultPort: number, req: http.IncomingMessage): boolean => {
  const fromHeader = parseAuthority(value, defaultPort);
  if (!fromHeader.ok) return false;
  if (sameDestination(fromHeader.value, destination)) return true;
  const local = parseAuthority(`${req.socket.localAddress?.includes(':') ? `[${req.socket.localAddress}]` : req.socket.localAddress}:${req.socket.localPort}`);
  return local.ok && sameDestination(fromHeader.value, local.value);
};

/** Applies the decision to the flow record; returns the deny to enforce, or undefined to go on. */
const enforce = (runtime: ProxyRuntime, flow: FlowBuilder, decision: Decision): DenyDecision | undefined => {
  if (decision.verdict === 'allow') {
    Object.assign(flow.fields, { verdict: 'allow', reason: decision.reason, rule: decision.rule });
    return undefined;
  }
  Object.assign(flow.fields, { verdict: 'deny', reason: decision.reason, rule: decision.rule, detail: decision.detail });
  if (!runtime.state().config.dry_run) return decision;
  Object.assign(flow.fields, { verdict: 'allow', wouldDeny: true });
  return undefined;
};

/**
 * Handles one HTTP request that arrived in absolute form (`GET http://host/path`): parse,
 * decide, then stream it to the origin and the answer back, both with backpressure.
 */
export const createForwardRequestHandler = (runtime: ProxyRuntime, listener: ListenerInfo) =>
  (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const startedAt = runtime.clock.now();
    const target = req.url ?? '';
    const method = req.method ?? 'GET';
    const flow = createFlowBuilder({
      id: runtime.nextFlowId(), kind: 'http', startedAt, listener: listener.id, method, url: target, host: '-', port: 0,
      client: { address: clientIpOf(req.socket.remoteAddress), port: req.socket.remotePort ?? 0 },
    }, (record) => runtime.recordFlow(record));
    res.once('close', () => {
      flow.fields.status = res.headersSent ? res.statusCode : 0;
      if (!res.writableFinished && flow.fields.errorCode === undefined) flow.fields.errorCode = 'PCL_ERR_CLIENT_ABORTED';
      flow.finish(runtime.clock.now());
    });

    if (target.startsWith('/') || target === '*') {
      Object.assign(flow.fields, { verdict: 'deny', reason: 'not-a-proxy-request' });
      sendSynthetic(res, helpPage(listener.id));
      return;
    }
    const parsed = parseAbsoluteTarget(target);
    if (!parsed.ok) {
      const decision = deny(parsed.reason, undefined, parsed.error);
      Object.assign(flow.fields, { verdict: 'deny', reason: decision.reason, detail: parsed.error });
      sendSynthetic(res, parsed.reason === 'userinfo-in-url' ? denyResponse(target, decision)
        : errorResponse(400, 'http_request_error', parsed.reason, parsed.error));
      return;
    }
    const { destination, scheme, pathAndQuery } = parsed.value;
    flow.fields.host = destination.host.host;
    flow.fields.port = destination.port;
    const defaultPort = scheme === 'https' ? 443 : 80;

    const host = countHeader(req.rawHeaders, 'host');
    let decision: Decision;
    if (host.count > 1) {
      decision = deny('host-mismatch', undefined, 'more than one Host header');
    } else if (host.value !== undefined && !hostHeaderAgrees(host.value, destination, defaultPort, req)) {
      decision = deny('host-mismatch', undefined, `Host header "${host.value}" does not name the URL's host ${formatHostHeader(destination, defaultPort)}`);
    } else if (scheme === 'https') {
      decision = deny('invalid-destination', undefined, 'https:// URLs must be sent through a CONNECT tunnel');
    } else {
      decision = runtime.state().policy.decideRequest({
        destination, clientIp: flow.fields.client?.address ?? clientIpOf(req.socket.remoteAddress), transport: 'http', method, pathAndQuery,
      });
    }
    const denied = enforce(runtime, flow, decision);
    if (denied) {
      sendSynthetic(res, denyResponse(target, denied));
      return;
    }
    forward(runtime, req, res, flow, destination, pathAndQuery, defaultPort);
  };

const forward = (
  runtime: ProxyRuntime, req: http.IncomingMessage, res: http.ServerResponse, flow: FlowBuilder,
  destination: Destination, pathAndQuery: string, defaultPort: number,
): void => {
  const agent = runtime.upstreamAgent as DialingAgent;
  const headers = stripHopByHop(req.rawHeaders, DROP_HOST);
  headers.unshift('Host', formatHostHeader(destination, defaultPort));
  const method = req.method ?? 'GET';
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  let bytesUp = 0;
  let bytesDown = 0;
  let attempt = 0;
  let current: http.ClientRequest | undefined;

  const fail = (error: unknown): void => {
    const failure = isPortcullisError(error) ? error : classifySocketError(error);
    flow.fields.errorCode = failure.code;
    flow.fields.detail = failure.message;
    if (failure.code === 'PCL_ERR_ADDRESS_BLOCKED') {
      const blocked = deny('address-blocked', flow.fields.rule, failure.message);
      Object.assign(flow.fields, { verdict: 'deny', reason: blocked.reason });
      sendSynthetic(res, denyResponse(`${flow.fields.url ?? ''}`, blocked));
      return;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { status, type } = upstreamFailure(failure.code);
    flow.fields.reason = flow.fields.reason ?? 'rule-matched';
    sendSynthetic(res, errorResponse(status, type, failure.code, failure.message));
  };

  const send = (): void => {
    attempt += 1;
    const options: DialingRequestOptions = {
      agent, host: destination.host.host, port: destination.port, method, path: pathAndQuery,
      headers: headers as unknown as http.OutgoingHttpHeaders, setHost: false, destination,
    };
    const upstream = http.request(options);
    current = upstream;
    upstream.setTimeout(runtime.state().config.timeouts.upstream_response, () => {
      upstream.destroy(new PortcullisError('PCL_ERR_UPSTREAM_RESPONSE_TIMEOUT', `no answer from ${destination.host.host}:${destination.port} within ${runtime.state().config.timeouts.upstream_response} ms`));
    });
    upstream.once('socket', (socket) => {
      const address = agent.addressOf(socket);
      if (address) flow.fields.upstreamAddress = `${address}:${destination.port}`;
    });
    upstream.once('response', (upstreamRes) => {
      try {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, stripHopByHop(upstreamRes.rawHeaders) as unknown as http.OutgoingHttpHeaders);
      } catch (error) {
        upstreamRes.destroy();
        fail(new PortcullisError('PCL_ERR_UPSTREAM_FAILED', `invalid response header from upstream: ${(error as Error).message}`));
        return;
      }
      const contentType = upstreamRes.headers['content-type'];
      if (contentType) flow.fields.contentType = contentType;
      upstreamRes.on('data', (chunk: Buffer) => {
        bytesDown += chunk.length;
        flow.fields.bytesDown = bytesDown;
      });
      upstreamRes.once('aborted', () => {
        flow.fields.errorCode = 'PCL_ERR_UPSTREAM_RESET';
        res.destroy();
      });
      upstreamRes.once('error', () => res.destroy());
      upstreamRes.pipe(res);
    });
    upstream.once('error', (error) => {
      const retry = attempt === 1 && upstream.reusedSocket && !hasBody && REPLAYABLE.has(method)
        && ['ECONNRESET', 'EPIPE'].includes((error as NodeJS.ErrnoException).code ?? '');
      if (retry) {
        send();
        return;
      }
      fail(error);
    });
    if (hasBody) {
      req.pipe(upstream);
    } else {
      upstream.end();
    }
  };

  req.on('data', (chunk: Buffer) => {
    bytesUp += chunk.length;
    flow.fields.bytesUp = bytesUp;
  });
  res.once('close', () => {
    if (res.writableFinished) return;
    current?.destroy();
    req.destroy();
  });
  req.once('aborted', () => current?.destroy());
  send();
};

/** Maps a raw socket error from an established upstream connection to a typed error. */
const classifySocketError = (error: unknown): PortcullisError => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'EUNKNOWN';
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return new PortcullisError('PCL_ERR_UPSTREAM_RESET', `upstream closed the connection before answering (${code})`, { cause: error });
  }
  return new PortcullisError('PCL_ERR_UPSTREAM_FAILED', `upstream request failed: ${(error as Error)?.message ?? code}`, { cause: error });
};
