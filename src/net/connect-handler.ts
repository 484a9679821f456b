import type http from 'node:http';
import type net from 'node:net';
import { parseAuthority, formatAuthority } from '../flow/destination.js';
import { clientIpOf } from '../flow/client-address.js';
import { createFlowBuilder } from '../flow/flow-builder.js';
import { PortcullisError, isPortcullisError } from '../errors.js';
import { deny, type Decision } from '../policy/decision.js';
import { denyResponse, errorResponse, serializeResponse } from '../http/deny-response.js';
import { upstreamFailure } from '../http/proxy-status.js';
import type { ListenerInfo } from '../http/forward-request.js';
import type { ProxyRuntime } from '../runtime.js';
import { relayTunnel } from './tunnel-relay.js';

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

/**
 * Handles `CONNECT host:port`: decide before any byte reaches the destination, then dial
 * the checked address and splice raw bytes both ways.
 */
export const createConnectHandler = (runtime: ProxyRuntime, listener: ListenerInfo) =>
  (req: http.IncomingMessage, client: net.Socket, head: Buffer): void => {
    const startedAt = runtime.clock.now();
    const target = req.url ?? '';
    const flow = createFlowBuilder({
      id: runtime.nextFlowId(), kind: 'tunnel', startedAt, listener: listener.id, method: 'CONNECT', url: target, host: '-', port: 0,
      client: { address: clientIpOf(client.remoteAddress), port: client.remotePort ?? 0 },
    }, (record) => runtime.recordFlow(record));
    const refuse = (status: number, body: string): void => {
      flow.fields.status = status;
      client.on('error', () => {});
      client.end(body);
      flow.finish(runtime.clock.now());
    };

    const parsed = parseAuthority(target);
    if (!parsed.ok) {
      Object.assign(flow.fields, { verdict: 'deny', reason: parsed.reason, detail: parsed.error });
      const decision = deny(parsed.reason, undefined, parsed.error);
      refuse(parsed.reason === 'userinfo-in-url' ? 403 : 400, serializeResponse(parsed.reason === 'userinfo-in-url'
        ? denyResponse(target, decision)
        : errorResponse(400, 'http_request_error', parsed.reason, parsed.error)));
      return;
    }
    const destination = parsed.value;
    Object.assign(flow.fields, { host: destination.host.host, port: destination.port, url: formatAuthority(destination) });

    const state = runtime.state();
    let decision: Decision = state.policy.decideConnection({ destination, clientIp: flow.fields.client?.address ?? '', transport: 'tls' });
    if (decision.verdict === 'allow' && decision.intercept) {
      // Interception is not built yet: a rule that needs to see requests cannot be honoured.
      decision = deny('path-not-allowed', decision.rule, 'this rule needs TLS interception, which this build does not provide');
    }
    if (decision.verdict === 'deny') {
      Object.assign(flow.fields, { verdict: 'deny', reason: decision.reason, rule: decision.rule, detail: decision.detail });
      if (!state.config.dry_run) {
        refuse(403, serializeResponse(denyResponse(target, decision)));
        return;
      }
      Object.assign(flow.fields, { verdict: 'allow', wouldDeny: true });
    } else {
      Object.assign(flow.fields, { verdict: 'allow', reason: decision.reason, rule: decision.rule });
    }
    flow.fields.tunnelMode = 'splice';

    const abort = new AbortController();
    const onEarlyClose = (): void => abort.abort();
    client.once('close', onEarlyClose);
    client.on('error', () => abort.abort());
    state.dialer.dial(destination, { signal: abort.signal }).then(({ socket: upstream, address }) => {
      client.off('close', onEarlyClose);
      flow.fields.upstreamAddress = `${address}:${destination.port}`;
      if (client.destroyed) {
        upstream.destroy();
        flow.fields.errorCode = 'PCL_ERR_CLIENT_ABORTED';
        flow.finish(runtime.clock.now());
        return;
      }
      flow.fields.status = 200;
      client.write(ESTABLISHED);
      if (head.length > 0) upstream.write(head);
      relayTunnel(client, upstream, state.config.timeouts.tunnel_idle).then(() => {
        flow.fields.bytesUp = upstream.bytesWritten;
        flow.fields.bytesDown = upstream.bytesRead;
        flow.finish(runtime.clock.now());
      });
    }, (error: unknown) => {
      client.off('close', onEarlyClose);
      const failure = isPortcullisError(error)
        ? error
        : new PortcullisError('PCL_ERR_UPSTREAM_FAILED', String((error as Error)?.message ?? error));
      flow.fields.errorCode = failure.code;
      flow.fields.detail = failure.message;
      if (failure.code === 'PCL_ERR_CLIENT_ABORTED') {
        flow.finish(runtime.clock.now());
        return;
      }
      if (failure.code === 'PCL_ERR_ADDRESS_BLOCKED') {
        const blocked = deny('address-blocked', flow.fields.rule, failure.message);
        Object.assign(flow.fields, { verdict: 'deny', reason: blocked.reason });
        refuse(403, serializeResponse(denyResponse(target, blocked)));
        return;
      }
      const { status, type } = upstreamFailure(failure.code);
      refuse(status, serializeResponse(errorResponse(status, type, failure.code, failure.message)));
    });
  };
