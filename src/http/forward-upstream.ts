import http from 'node:http';
import { joinListenAddress } from '../net/listen-address.js';
import { whenResponseClosed } from './when-response-closed.js';
import { formatHostHeader, type Destination } from '../flow/destination.js';
import type { FlowBuilder } from '../flow/flow-builder.js';
import { redactHeaderObject, redactHeaders } from '../flow/redact-headers.js';
import { PortcullisError, isPortcullisError } from '../errors.js';
import { deny } from '../policy/decision.js';
import type { DialingAgent, DialingRequestOptions } from '../net/dialing-agent.js';
import type { ProxyRuntime } from '../runtime.js';
import { denyResponse, errorResponse } from './deny-response.js';
import { stripHopByHop } from './hop-by-hop.js';
import { upstreamFailure } from './proxy-status.js';
import { sendSynthetic } from './send-synthetic.js';

// Host is rewritten to the checked destination; Expect was answered by the proxy already.
const DROP_HOST = new Set(['host', 'expect']);
const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);

/**
 * Streams an allowed request to the origin and the answer back, both with backpressure.
 * The Host header is rewritten to the checked destination. A request that fails on a
 * reused pooled connection before any byte of answer is retried once when it has no body.
 */
export const forwardUpstream = (
  runtime: ProxyRuntime, req: http.IncomingMessage, res: http.ServerResponse, flow: FlowBuilder,
  destination: Destination, pathAndQuery: string, scheme: 'http' | 'https',
): void => {
  const agent = (scheme === 'https' ? runtime.upstreamTlsAgent : runtime.upstreamAgent) as DialingAgent;
  const defaultPort = scheme === 'https' ? 443 : 80;
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
      const response = denyResponse(flow.fields.url ?? flow.base.url, blocked);
      flow.fields.responseHeaders = redactHeaderObject(response.headers);
      sendSynthetic(res, response);
      return;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { status, type } = upstreamFailure(failure.code);
    flow.fields.reason = flow.fields.reason ?? 'rule-matched';
    const response = errorResponse(status, type, failure.code, failure.message);
    flow.fields.responseHeaders = redactHeaderObject(response.headers);
    sendSynthetic(res, response);
  };

  const send = (): void => {
    attempt += 1;
    const options: DialingRequestOptions = {
      agent, protocol: scheme === 'https' ? 'https:' : 'http:', host: destination.host.host, port: destination.port, method,
      // Through a parent proxy, plain HTTP goes to it in absolute form, as a client would send it.
      path: scheme === 'http' && runtime.state().parent ? `http://${formatHostHeader(destination, 80)}${pathAndQuery}` : pathAndQuery,
      headers: headers as unknown as http.OutgoingHttpHeaders, setHost: false, destination,
    };
    const upstream = http.request(options);
    current = upstream;
    upstream.setTimeout(runtime.state().config.timeouts.upstream_response, () => {
      upstream.destroy(new PortcullisError('PCL_ERR_UPSTREAM_RESPONSE_TIMEOUT', `no answer from ${destination.host.host}:${destination.port} within ${runtime.state().config.timeouts.upstream_response} ms`));
    });
    upstream.once('socket', (socket) => {
      const address = agent.addressOf(socket);
      if (address) flow.fields.upstreamAddress = joinListenAddress(address, destination.port);
    });
    upstream.once('response', (upstreamRes) => {
      flow.fields.timings = { responseStartedAt: runtime.clock.now() };
      try {
        const sent = stripHopByHop(upstreamRes.rawHeaders);
        flow.fields.responseHeaders = redactHeaders(sent);
        const responseHeaders = sent as unknown as http.OutgoingHttpHeaders;
        // HTTP/2 has no reason phrase.
        if (req.httpVersionMajor >= 2) res.writeHead(upstreamRes.statusCode ?? 502, responseHeaders);
        else res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, responseHeaders);
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
      if (clientGone) return;
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
  // Once the client is gone nothing more is sent upstream: in particular a request destroyed
  // here fails with ECONNRESET, which must not look like a stale pooled connection to retry.
  let clientGone = false;
  whenResponseClosed(res, () => {
    if (res.writableFinished) return;
    clientGone = true;
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
