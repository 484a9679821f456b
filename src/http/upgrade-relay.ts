import type http from 'node:http';
import type net from 'node:net';
import { Transform } from 'node:stream';
import { formatHostHeader } from '../flow/destination.js';
import { redactHeaderObject } from '../flow/redact-headers.js';
import { PortcullisError } from '../errors.js';
import { joinListenAddress } from '../net/listen-address.js';
import { readResponseHead } from '../net/read-response-head.js';
import { relayTunnel } from '../net/tunnel-relay.js';
import { startUpstreamTls } from '../net/upstream-tls.js';
import type { HttpFlow } from '../pipeline/flow.js';
import { refuseFailure } from '../pipeline/refusal.js';
import { requestHeadersFor } from '../pipeline/request-controls.js';
import type { ForwardRoute, RequestExchange } from '../pipeline/request-pipeline.js';
import type { ProxyRuntime } from '../runtime.js';
import { errorResponse, serializeParts, type SyntheticResponse } from './deny-response.js';
import { stripHopByHop } from './hop-by-hop.js';
import { checkSwitchingProtocols, createFrameChecker, responseHeaders, type FrameChecker } from './websocket-frames.js';
import { requestHeadOf, type ExchangeSide } from './node-exchange.js';

const KEEP_FOR_UPGRADE = new Set(['host']);

const headerOf = (req: http.IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * Passes the client's WebSocket frames on and refuses anything else: once the origin switched
 * protocols the proxy sees no more requests, so bytes that are not frames (a second HTTP
 * request, an HTTP/2 preface) must not reach it.
 */
const frameGate = (flow: HttpFlow, checker: FrameChecker): Transform => new Transform({
  transform(chunk: Buffer, _encoding, callback) {
    const problem = checker.push(chunk);
    if (problem === undefined) {
      callback(null, chunk);
      return;
    }
    notFrames(flow, problem);
    callback(new Error(problem));
  },
});

const notFrames = (flow: HttpFlow, problem: string): void =>
  flow.failed({ code: 'PCL_ERR_WEBSOCKET_FRAMING', message: `the client sent something that is not a WebSocket frame after the 101 (${problem}); connection closed` });

/** Answers an upgrade request on its raw socket, closes it, and finishes the flow. */
const answerOnSocket = (runtime: ProxyRuntime, client: net.Socket, flow: HttpFlow, response: SyntheticResponse): void => {
  flow.responded(response.status, redactHeaderObject(response.headers));
  flow.answered(response.status);
  const { head, body } = serializeParts(response);
  flow.answeredWith(head.length, body.length);
  client.end(Buffer.concat([head, body]));
  flow.finished(runtime.clock.now());
};

/** An upgrade request (Connection: upgrade) on its raw socket; `head` is what the client sent after it. */
export const upgradeExchange = (
  runtime: ProxyRuntime, req: http.IncomingMessage, client: net.Socket, head: Buffer, side: ExchangeSide,
): RequestExchange => ({
  head: requestHeadOf(req),
  source: side.source,
  connection: { client: side.client, listener: side.listener },
  credentials: side.credentials,
  upgrade: req.headers.upgrade ?? '',
  begin() {
    client.on('error', () => {});
  },
  answer(flow, response) {
    answerOnSocket(runtime, client, flow, response);
  },
  forward(route) {
    void relayUpgrade(runtime, req, client, head, route);
  },
});

/**
 * Relays an allowed upgrade (WebSocket): the request head goes to the checked destination, and
 * only a `101 Switching Protocols` answer turns the connection into a relay. Nothing the client
 * sent after its upgrade request reaches the origin before that 101: until then those bytes could
 * only be a second, unchecked request. Any other answer closes the connection.
 */
const relayUpgrade = async (runtime: ProxyRuntime, req: http.IncomingMessage, client: net.Socket, head: Buffer, route: ForwardRoute): Promise<void> => {
  const { flow, destination, scheme } = route;
  const state = runtime.state();
  let upstream: net.Socket | undefined;
  client.pause();
  try {
    const way = state.upstream.routeFor(destination, flow.decidingRule).tunnel;
    const dialed = route.checked ? await way.connect(route.checked) : await way.dial(destination);
    flow.connectedTo(joinListenAddress(dialed.address, destination.port), runtime.clock.now());
    upstream = scheme === 'https'
      ? await startUpstreamTls(dialed.socket, { name: destination.host.host, isIp: destination.host.kind === 'ip' }, state.upstreamTls, ['http/1.1'], state.config.timeouts.upstream_connect)
      : dialed.socket;
    upstream.on('error', () => {});
    const headers = requestHeadersFor(stripHopByHop(route.addonHeaders ? Object.entries(route.addonHeaders).flat() : req.rawHeaders, KEEP_FOR_UPGRADE), route.controls, flow.client.address, route.inject);
    const lines = [`${req.method ?? 'GET'} ${route.pathAndQuery} HTTP/1.1`, `Host: ${formatHostHeader(destination, scheme === 'https' ? 443 : 80)}`];
    for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
    lines.push('Connection: Upgrade', `Upgrade: ${req.headers.upgrade ?? ''}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    const answer = await readResponseHead(upstream, state.config.timeouts.upstream_response);
    if (answer.status !== 101) {
      upstream.destroy();
      const what = answer.status || 'something that is not HTTP';
      flow.failed({ code: 'PCL_ERR_UPSTREAM_FAILED', message: `upgrade-refused: the origin answered ${what} instead of 101` });
      answerOnSocket(runtime, client, flow, errorResponse(502, 'http_upgrade_failed', 'upgrade-refused',
        `the origin answered ${what} instead of 101 Switching Protocols`));
      return;
    }
    const switched = responseHeaders(answer.bytes);
    const mismatch = checkSwitchingProtocols(headerOf(req, 'sec-websocket-key'), switched);
    if (mismatch !== undefined) {
      upstream.destroy();
      flow.failed({ code: 'PCL_ERR_UPSTREAM_FAILED', message: `upgrade-refused: ${mismatch}` });
      answerOnSocket(runtime, client, flow, errorResponse(502, 'http_upgrade_failed', 'upgrade-refused', mismatch));
      return;
    }
    flow.answered(101);
    client.write(answer.bytes);
    const checker = createFrameChecker({ allowRsv1: /permessage-deflate/i.test(switched.get('sec-websocket-extensions') ?? '') });
    const early = head.length > 0 ? checker.push(head) : undefined;
    if (early !== undefined) {
      notFrames(flow, early);
      upstream.destroy();
      client.destroy();
      flow.finished(runtime.clock.now());
      return;
    }
    if (head.length > 0) upstream.write(head);
    client.resume();
    await relayTunnel(client, upstream, state.config.timeouts.tunnel_idle, frameGate(flow, checker));
    flow.transferred(upstream.bytesWritten, upstream.bytesRead);
    flow.finished(runtime.clock.now());
  } catch (error) {
    upstream?.destroy();
    const refusal = refuseFailure(flow, route.url, error instanceof Error ? error : new PortcullisError('PCL_ERR_UPSTREAM_FAILED', String(error)));
    if (refusal === undefined) {
      client.destroy();
      flow.finished(runtime.clock.now());
      return;
    }
    answerOnSocket(runtime, client, flow, refusal.response);
  }
};
