import type http from 'node:http';
import { redactHeaderObject } from '../flow/redact-headers.js';
import type { HttpFlow } from '../pipeline/flow.js';
import type { Credentials } from '../pipeline/authenticate.js';
import type { RequestHead, RequestSource } from '../pipeline/identify-request.js';
import type { RequestExchange } from '../pipeline/request-pipeline.js';
import type { ProxyRuntime } from '../runtime.js';
import { forwardUpstream } from './forward-upstream.js';
import { sendSynthetic } from './send-synthetic.js';
import { whenResponseClosed } from './when-response-closed.js';

/** The head of a node:http or node:http2 (compatibility API) request, as the pipeline reads it. */
export const requestHeadOf = (req: http.IncomingMessage): RequestHead => ({
  method: req.method ?? 'GET',
  target: req.url ?? '',
  rawHeaders: req.rawHeaders,
  httpVersionMajor: req.httpVersionMajor,
  httpVersionMinor: req.httpVersionMinor,
  local: { address: req.socket?.localAddress, port: req.socket?.localPort },
});

/** Proxy-Authorization as sent (the first one when repeated). */
export const proxyAuthorizationOf = (req: http.IncomingMessage): string | undefined => {
  const header = req.headers['proxy-authorization'];
  return Array.isArray(header) ? header[0] : header;
};

/** Bytes of the response head node:http wrote (HTTP/1.x); unknown for HTTP/2. */
const headBytesOf = (res: http.ServerResponse): number | undefined => {
  const head = (res as unknown as { _header?: unknown })._header;
  return typeof head === 'string' ? Buffer.byteLength(head, 'latin1') : undefined;
};

/**
 * `Expect: 100-continue` is answered only once the request is allowed (the server's
 * 'checkContinue' event routes here), so a denied client never sends its body.
 */
const continueIfExpected = (req: http.IncomingMessage, res: http.ServerResponse): void => {
  if ((req.headers.expect ?? '').toLowerCase() === '100-continue' && req.httpVersionMajor === 1) res.writeContinue();
};

export interface ExchangeSide {
  readonly source: RequestSource;
  readonly listener: string;
  /** The client as the flow records it (a tunnel's requests take the tunnel's client). */
  readonly client: { readonly address: string; readonly port: number };
  readonly credentials?: Credentials;
}

/** An ordinary request (HTTP/1.x or HTTP/2) on node's request/response pair. */
export const nodeExchange = (runtime: ProxyRuntime, req: http.IncomingMessage, res: http.ServerResponse, side: ExchangeSide): RequestExchange => ({
  head: requestHeadOf(req),
  source: side.source,
  connection: { client: side.client, listener: side.listener },
  credentials: side.credentials,
  upgrade: undefined,
  begin(flow: HttpFlow) {
    // Over HTTP/1.x one response at a time goes out on the socket: what it wrote meanwhile is
    // this response, head and chunk framing included, as Squid's log counts it.
    const socket = req.httpVersionMajor < 2 ? res.socket : null;
    const before = socket?.bytesWritten ?? 0;
    whenResponseClosed(res, () => {
      flow.answered(res.headersSent ? res.statusCode : 0);
      if (socket && res.headersSent) flow.sentToClient(socket.bytesWritten - before);
      if (!res.writableFinished) flow.clientLeft();
      flow.finished(runtime.clock.now());
    });
  },
  answer(flow, response) {
    flow.responded(response.status, redactHeaderObject(response.headers));
    const bodyBytes = sendSynthetic(res, response);
    flow.answeredWith(headBytesOf(res) ?? 0, bodyBytes);
  },
  forward(route) {
    continueIfExpected(req, res);
    forwardUpstream(runtime, req, res, route);
  },
});
