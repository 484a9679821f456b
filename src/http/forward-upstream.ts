import http from 'node:http';
import { constants as http2Constants } from 'node:http2';
import { joinListenAddress } from '../net/listen-address.js';
import { whenResponseClosed } from './when-response-closed.js';
import { formatHostHeader, type Destination } from '../flow/destination.js';
import type { ForwardRoute } from '../pipeline/request-pipeline.js';
import { refuseFailure } from '../pipeline/refusal.js';
import { requestHeadersFor, responseHeadersFor } from '../pipeline/request-controls.js';
import { addonFlowView, addonRequestView, headerObject } from '../pipeline/addon-views.js';
import { allow } from '../policy/decision.js';
import { redactHeaderObject, redactHeaders } from '../flow/redact-headers.js';
import { PortcullisError, isPortcullisError } from '../errors.js';
import type { ProxyRuntime } from '../runtime.js';
import { stripHopByHop } from './hop-by-hop.js';
import { sendSynthetic } from './send-synthetic.js';

// Host is rewritten to the checked destination; Expect was answered by the proxy already.
const DROP_HOST = new Set(['host', 'expect']);
/** Bytes of response a request may hold queued for a slow client before the origin is paused. */
const RESPONSE_BUFFER = 256 * 1024;
const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);

/**
 * Streams an allowed request to the origin (through the upstream pools, undici) and the answer
 * back, both with backpressure. The Host header is rewritten to the checked destination. A
 * request that fails on a reused pooled connection before any answer is retried once when it
 * has no body.
 */
export const forwardUpstream = (runtime: ProxyRuntime, req: http.IncomingMessage, res: http.ServerResponse, route: ForwardRoute): void => {
  const { flow, destination, pathAndQuery, scheme } = route;
  const way = runtime.state().upstream.routeFor(destination, flow.decidingRule);
  const pool = runtime.upstreamPools.poolFor(destination, scheme, way, route.checked);
  const defaultPort = scheme === 'https' ? 443 : 80;
  const fromClient = route.addonHeaders ? Object.entries(route.addonHeaders).flat() : req.rawHeaders;
  const headers = requestHeadersFor(stripHopByHop(fromClient, DROP_HOST), route.controls, flow.client.address, route.inject);
  headers.unshift('Host', formatHostHeader(destination, defaultPort));
  const method = req.method ?? 'GET';
  // HTTP/2 requests need no Content-Length: their stream says whether a body follows.
  const hasBody = req.httpVersionMajor >= 2
    ? (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders !== true
    : req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  const timeouts = runtime.state().config.timeouts;
  // Through a parent proxy, plain HTTP goes to it in absolute form, as a client would send it,
  // with the parent's credentials (the client's own Proxy-Authorization was hop-by-hop).
  const parent = scheme === 'http' ? way.parent : undefined;
  const path = parent ? `http://${formatHostHeader(destination, 80)}${pathAndQuery}` : pathAndQuery;
  if (parent?.authorization !== undefined) headers.push('Proxy-Authorization', parent.authorization);
  let bytesUp = 0;
  let bytesDown = 0;
  let attempt = 0;
  let abortCurrent: ((reason: Error) => void) | undefined;
  let clientGone = false;
  const { addons } = runtime.state();
  // Hooks see the request as the pipeline passed it on; built only when some addon has a body or response hook.
  const addonView = addons.has('request') || addons.has('responseHeaders') || addons.has('response')
    ? {
      ...addonFlowView(flow, 'http', destination, allow(flow.decidingRule ?? '-')),
      // What the client sent (before header rules and credentials: addons never see a secret).
      request: addonRequestView(method, route.url, pathOf(route.url), fromClient),
    }
    : undefined;

  const fail = (error: unknown): void => {
    const failure = isPortcullisError(error) ? error : classifySocketError(error, destination, timeouts.upstream_response);
    const refusal = refuseFailure(flow, route.url, failure);
    if (refusal === undefined || res.headersSent) {
      abortResponse(req, res);
      return;
    }
    flow.responded(refusal.response.status, redactHeaderObject(refusal.response.headers));
    sendSynthetic(res, refusal.response);
  };

  const send = (): void => {
    attempt += 1;
    let answered = false;
    let settled = false; // answered here already (a response header node refused)
    let resumeUpstream: (() => void) | undefined;
    const connectionsBefore = pool.connectionsStarted();
    const onDrain = (): void => resumeUpstream?.();
    pool.dispatch({
      path, method, headers,
      body: hasBody ? countedBody() : null,
      // upstream_response bounds the wait for the answer and each silence within its body.
      headersTimeout: timeouts.upstream_response, bodyTimeout: timeouts.upstream_response,
    }, {
      onConnect(abort: (reason?: Error) => void) {
        abortCurrent = abort;
        if (clientGone) abort(new PortcullisError('PCL_ERR_CLIENT_ABORTED', 'the client left'));
      },
      onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string) {
        if (statusCode < 200) return true; // 1xx interim answers are not relayed
        answered = true;
        resumeUpstream = resume;
        const address = pool.lastAddress();
        if (address) flow.connectedTo(joinListenAddress(address, destination.port));
        const raw: string[] = new Array<string>(rawHeaders.length);
        for (let i = 0; i < rawHeaders.length; i += 1) raw[i] = (rawHeaders[i] as Buffer).toString('latin1');
        const sent = responseHeadersFor(stripHopByHop(raw), route.controls);
        const writeHead = (headerList: string[]): boolean => {
          try {
            flow.responded(statusCode, redactHeaders(headerList), runtime.clock.now());
            const responseHeaders = headerList as unknown as http.OutgoingHttpHeaders;
            // HTTP/2 has no reason phrase.
            if (req.httpVersionMajor >= 2) res.writeHead(statusCode, responseHeaders);
            else res.writeHead(statusCode, statusText || http.STATUS_CODES[statusCode] || '', responseHeaders);
          } catch (error) {
            settled = true;
            abortCurrent?.(new PortcullisError('PCL_ERR_UPSTREAM_FAILED', 'invalid response header'));
            fail(new PortcullisError('PCL_ERR_UPSTREAM_FAILED', `invalid response header from upstream: ${(error as Error).message}`));
            return false;
          }
          res.on('drain', onDrain);
          return true;
        };
        if (addonView === undefined || !addons.has('responseHeaders')) return writeHead(sent);
        // responseHeaders hooks may take their time: the server's body waits (paused) meanwhile.
        const view = { ...addonView, response: { status: statusCode, headers: headerObject(sent) } };
        void Promise.resolve(addons.decide({ hook: 'responseHeaders', flow: view }, allow(flow.decidingRule ?? '-'))).then((outcome) => {
          if (outcome.decision.verdict === 'deny') {
            settled = true;
            abortCurrent?.(new PortcullisError('PCL_ERR_ADDON_DENIED', 'refused by an addon'));
            fail(new PortcullisError('PCL_ERR_ADDON_DENIED', outcome.decision.detail ?? 'refused by an addon', { cause: outcome.decision }));
            return;
          }
          if (writeHead(Object.entries(view.response.headers).flat())) resume();
        });
        return false;
      },
      onData(chunk: Buffer) {
        if (settled) return true;
        if (addonView !== undefined && addons.has('response')) {
          // Each chunk waits for the response hooks (the server is paused meanwhile), in order.
          const view = { ...addonView, response: { status: res.statusCode, headers: {} } };
          void addons.responseChunk(view, chunk).then((out) => {
            if ('decision' in out) {
              settled = true;
              flow.decided(out.decision);
              abortCurrent?.(new PortcullisError('PCL_ERR_ADDON_DENIED', 'refused by an addon'));
              abortResponse(req, res);
              return;
            }
            bytesDown += out.chunk.length;
            flow.transferred(bytesUp, bytesDown);
            if (res.write(out.chunk)) resumeUpstream?.();
          });
          return false;
        }
        bytesDown += chunk.length;
        flow.transferred(bytesUp, bytesDown);
        // Pause the origin only past RESPONSE_BUFFER bytes queued for the client, not at the
        // socket's 16 KiB mark: pausing and resuming after every record halved large downloads.
        // (Past it, write() has returned false, so 'drain' follows and resumes.)
        res.write(chunk);
        return res.writableLength < RESPONSE_BUFFER;
      },
      onComplete() {
        res.off('drain', onDrain);
        if (settled) return;
        res.end();
        stopUnreadUpload(req);
      },
      onError(error: Error) {
        res.off('drain', onDrain);
        if (clientGone || settled) return;
        const code = (error as NodeJS.ErrnoException).code ?? '';
        // A pooled connection the origin closed while idle fails before any answer: a request
        // without a body that may be repeated is sent once more. Only when no new connection was
        // started meanwhile (so this one went out on a reused one): an origin that resets fresh
        // connections must not see each request twice.
        const reused = pool.connectionsStarted() === connectionsBefore;
        const retry = attempt === 1 && reused && !answered && !hasBody && REPLAYABLE.has(method)
          && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE');
        if (retry) {
          send();
          return;
        }
        if (answered) {
          flow.failed({ code: 'PCL_ERR_UPSTREAM_RESET', message: `upstream failed mid-response (${code || 'error'})` });
          abortResponse(req, res);
          return;
        }
        fail(error);
      },
    });
  };

  // Pulled by undici as it sends (backpressure); a 'data' listener would start the stream
  // flowing before undici reads it, and lose what came first.
  async function* countedBody(): AsyncGenerator<Buffer> {
    // Over HTTP/2 the stream must outlive undici's interest in the body: destroying it when undici
    // stops reading (an early response) would reset it before the response's END_STREAM went out.
    const chunks = req.httpVersionMajor >= 2 ? req.iterator({ destroyOnReturn: false }) : req;
    const limit = route.controls.maxRequestBytes;
    const bodyHooks = addonView !== undefined && addons.has('request');
    for await (const received of chunks as AsyncIterable<Buffer>) {
      let chunk = received;
      if (bodyHooks) {
        const out = await addons.requestChunk(addonView, chunk);
        if ('decision' in out) throw new PortcullisError('PCL_ERR_ADDON_DENIED', out.decision.detail ?? 'refused by an addon', { cause: out.decision });
        chunk = out.chunk;
      }
      bytesUp += chunk.length;
      flow.transferred(bytesUp, bytesDown);
      // A body without a declared length (chunked, HTTP/2) is cut as soon as it passes the budget.
      if (limit !== undefined && bytesUp > limit) {
        throw new PortcullisError('PCL_ERR_BODY_TOO_LARGE', `the body passed max_request_bytes (${limit}); the upload was cut`);
      }
      yield chunk;
    }
  }
  // Once the client is gone nothing more is sent upstream, and nothing is retried.
  whenResponseClosed(res, () => {
    if (res.writableFinished) return;
    clientGone = true;
    abortCurrent?.(new PortcullisError('PCL_ERR_CLIENT_ABORTED', 'the client left'));
    req.destroy();
  });
  send();
};

/** Pings (at most this many, this far apart) that push out an early response's last frame. */
const FLUSH_PINGS = 5;
const FLUSH_PING_MS = 20;

/**
 * The origin answered before it read the whole request body (an early 413, a redirect). Over
 * HTTP/2, Node leaves the response's last frame (END_STREAM) queued until some other frame
 * moves the session (nodejs/node#31309), and a client that stopped uploading on the error
 * status sends none: it waits for its own timeout. A PING moves the session; once END_STREAM
 * is out, RST_STREAM(NO_ERROR) tells a client still uploading (its window spent) that the
 * request is over (RFC 9113 §8.1). HTTP/1.1 needs nothing: node closes a connection whose
 * request body was not consumed.
 */
const stopUnreadUpload = (req: http.IncomingMessage): void => {
  if (req.httpVersionMajor < 2 || req.readableEnded) return;
  const stream = (req as unknown as { stream?: H2StreamLike }).stream;
  if (stream === undefined) return;
  let pings = 0;
  const nudge = (): void => {
    if (stream.destroyed || req.readableEnded) return;
    if (stream.state?.localClose === 1) {
      stream.close(http2Constants.NGHTTP2_NO_ERROR);
      return;
    }
    if (pings >= FLUSH_PINGS) return;
    pings += 1;
    stream.session?.ping(() => {});
    setTimeout(nudge, FLUSH_PING_MS).unref();
  };
  setImmediate(nudge);
};

/**
 * Cuts a response that cannot be completed so the client sees an error, not a short body: over
 * HTTP/1.1 by closing the connection; over HTTP/2 by RST_STREAM(INTERNAL_ERROR), since a stream
 * destroyed without a code reads as CANCEL, which clients may take for the end of the response.
 */
const abortResponse = (req: http.IncomingMessage, res: http.ServerResponse): void => {
  const stream = req.httpVersionMajor >= 2 ? (req as unknown as { stream?: H2StreamLike }).stream : undefined;
  if (stream !== undefined && !stream.destroyed) stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
  else res.destroy();
};

/** What this module uses of an Http2Stream (the compat request's `stream`). */
interface H2StreamLike {
  readonly destroyed: boolean;
  /** nghttp2's view: localClose is 1 once END_STREAM (or RST_STREAM) has gone out. */
  readonly state?: { readonly localClose?: number };
  readonly session?: { ping(callback: () => void): boolean; readonly destroyed: boolean };
  close(code: number): void;
}

/** Path and query of a logged URL. */
const pathOf = (url: string): string => {
  const match = /^[a-z]+:\/\/[^/?#]*([^#]*)/i.exec(url);
  return match?.[1] || '/';
};

/** Maps an error of an established upstream connection (undici's or the socket's) to a typed error. */
const classifySocketError = (error: unknown, destination: Destination, responseTimeoutMs: number): PortcullisError => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'EUNKNOWN';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new PortcullisError('PCL_ERR_UPSTREAM_RESPONSE_TIMEOUT', `no answer from ${destination.host.host}:${destination.port} within ${responseTimeoutMs} ms`, { cause: error });
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') {
    return new PortcullisError('PCL_ERR_UPSTREAM_RESET', `upstream closed the connection before answering (${code})`, { cause: error });
  }
  return new PortcullisError('PCL_ERR_UPSTREAM_FAILED', `upstream request failed: ${(error as Error)?.message ?? code}`, { cause: error });
};
