import type http from 'node:http';
import { joinListenAddress } from '../net/listen-address.js';
import type net from 'node:net';
import { formatHostHeader, type Destination } from '../flow/destination.js';
import type { FlowBuilder } from '../flow/flow-builder.js';
import { PortcullisError, isPortcullisError } from '../errors.js';
import { startUpstreamTls } from '../net/upstream-tls.js';
import { relayTunnel } from '../net/tunnel-relay.js';
import { readResponseHead } from '../net/read-response-head.js';
import type { ProxyRuntime } from '../runtime.js';
import { errorResponse, serializeResponse, type SyntheticResponse } from './deny-response.js';
import { stripHopByHop } from './hop-by-hop.js';
import { upstreamFailure } from './proxy-status.js';

const KEEP_FOR_UPGRADE = new Set(['host']);

/** Answers an upgrade request on its raw socket and finishes the flow. */
export const answerUpgrade = (runtime: ProxyRuntime, client: net.Socket, flow: FlowBuilder, response: SyntheticResponse): void => {
  flow.fields.status = response.status;
  client.on('error', () => {});
  client.end(serializeResponse(response));
  flow.finish(runtime.clock.now());
};

/**
 * Relays an allowed upgrade (WebSocket): the request head goes to the checked destination,
 * and only a `101 Switching Protocols` answer turns the connection into a raw relay. Any other
 * answer closes it, so a fake upgrade cannot carry unchecked HTTP requests afterwards.
 */
export const relayUpgrade = async (
  runtime: ProxyRuntime, req: http.IncomingMessage, client: net.Socket, head: Buffer, flow: FlowBuilder,
  destination: Destination, pathAndQuery: string, scheme: 'http' | 'https',
): Promise<void> => {
  const state = runtime.state();
  client.on('error', () => {});
  let upstream: net.Socket | undefined;
  try {
    const dialed = await state.dialer.dial(destination);
    flow.fields.upstreamAddress = joinListenAddress(dialed.address, destination.port);
    upstream = scheme === 'https'
      ? await startUpstreamTls(dialed.socket, { name: destination.host.host, isIp: destination.host.kind === 'ip' }, state.upstreamTls, ['http/1.1'], state.config.timeouts.upstream_connect)
      : dialed.socket;
    upstream.on('error', () => {});
    const headers = stripHopByHop(req.rawHeaders, KEEP_FOR_UPGRADE);
    const lines = [`${req.method ?? 'GET'} ${pathAndQuery} HTTP/1.1`, `Host: ${formatHostHeader(destination, scheme === 'https' ? 443 : 80)}`];
    for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
    lines.push(`Connection: Upgrade`, `Upgrade: ${req.headers.upgrade ?? ''}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    const answer = await readResponseHead(upstream, state.config.timeouts.upstream_response);
    if (answer.status !== 101) {
      upstream.destroy();
      flow.fields.errorCode = 'PCL_ERR_UPSTREAM_FAILED';
      flow.fields.detail = `upgrade-refused: the origin answered ${answer.status || 'something that is not HTTP'} instead of 101`;
      answerUpgrade(runtime, client, flow, errorResponse(502, 'http_upgrade_failed', 'upgrade-refused',
        `the origin answered ${answer.status || 'something that is not HTTP'} instead of 101 Switching Protocols`));
      return;
    }
    flow.fields.status = 101;
    client.write(answer.bytes);
    await relayTunnel(client, upstream, state.config.timeouts.tunnel_idle);
    flow.fields.bytesUp = upstream.bytesWritten;
    flow.fields.bytesDown = upstream.bytesRead;
    flow.finish(runtime.clock.now());
  } catch (error) {
    upstream?.destroy();
    const failure = isPortcullisError(error) ? error : new PortcullisError('PCL_ERR_UPSTREAM_FAILED', String((error as Error)?.message ?? error));
    flow.fields.errorCode = failure.code;
    flow.fields.detail = failure.message;
    const { status, type } = upstreamFailure(failure.code);
    answerUpgrade(runtime, client, flow, errorResponse(status, type, failure.code, failure.message));
  }
};
