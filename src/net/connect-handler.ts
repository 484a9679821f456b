import type http from 'node:http';
import { joinListenAddress } from './listen-address.js';
import type net from 'node:net';
import { parseAuthority, formatAuthority } from '../flow/destination.js';
import { clientIpOf } from '../flow/client-address.js';
import { createFlowBuilder } from '../flow/flow-builder.js';
import { redactHeaders } from '../flow/redact-headers.js';
import { PortcullisError, isPortcullisError } from '../errors.js';
import { deny, type Decision } from '../policy/decision.js';
import { denyResponse, errorResponse, serializeResponse } from '../http/deny-response.js';
import { upstreamFailure } from '../http/proxy-status.js';
import type { ListenerInfo } from '../http/forward-request.js';
import type { ProxyRuntime } from '../runtime.js';
import type { Interceptor } from '../tls/tls-interceptor.js';
import { parseHost } from '../flow/host.js';
import type { Destination } from '../flow/destination.js';
import type { FlowBuilder } from '../flow/flow-builder.js';
import { peekClientHello, tlsAlert } from './peek-client-hello.js';
import { relayTunnel } from './tunnel-relay.js';
import { afterAuthentication, authenticateClient } from '../http/authenticate-client.js';

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

/**
 * Handles `CONNECT host:port`: decide before any byte reaches the destination, then dial
 * the checked address and splice raw bytes both ways.
 */
export const createConnectHandler = (runtime: ProxyRuntime, listener: ListenerInfo, interceptor: Interceptor) =>
  (req: http.IncomingMessage, client: net.Socket, head: Buffer): void => {
    const startedAt = runtime.clock.now();
    const target = req.url ?? '';
    const flow = createFlowBuilder({
      id: runtime.nextFlowId(), kind: 'tunnel', startedAt, listener: listener.id, method: 'CONNECT', url: target, host: '-', port: 0,
      client: { address: clientIpOf(client.remoteAddress), port: client.remotePort ?? 0 },
    }, (record) => runtime.recordFlow(record));
    flow.fields.requestHeaders = redactHeaders(req.rawHeaders);
    const refuse = (status: number, body: Buffer): void => {
      flow.fields.status = status;
      client.on('error', () => {});
      client.end(body);
      flow.finish(runtime.clock.now());
    };

    afterAuthentication(authenticateClient(runtime, req, flow), (auth) => {
      if (auth.ok) decideTunnel(runtime, client, head, flow, target, refuse, interceptor, auth.user);
      else refuse(407, serializeResponse(auth.response));
    });
  };

/** The CONNECT decision and what follows it, once the client is known (and authenticated). */
const decideTunnel = (
  runtime: ProxyRuntime, client: net.Socket, head: Buffer, flow: FlowBuilder, target: string,
  refuse: (status: number, body: Buffer) => void, interceptor: Interceptor, user: string | undefined,
): void => {
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
  const decision: Decision = state.policy.decideConnection({
    destination, clientIp: flow.base.client.address, transport: 'tls', ...(user ? { user } : {}),
  });
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

  if (decision.verdict === 'allow' && decision.intercept) {
    // A rule allows every request to this host (the tunnel could have been spliced), so the
    // origin's TLS handshake may overlap the client's; with paths or methods only, the origin
    // hears nothing until a request is allowed.
    if (decision.wholeHost) runtime.upstreamPools.prewarm(destination);
    flow.fields.status = 200;
    client.write(ESTABLISHED);
    interceptor.intercept(client, head, { flowId: flow.id, destination, client: flow.base.client, ...(user ? { user } : {}) }, flow);
    return;
  }
  flow.fields.tunnelMode = 'splice';
  splice(runtime, client, head, destination, flow, target, refuse);
};

interface SniVerdict {
  readonly deny: boolean;
  readonly reason: 'sni-mismatch' | 'sni-missing';
  readonly detail: string;
  readonly sni?: string;
}

/**
 * Peek-and-splice check: the name in the ClientHello must be the CONNECT host, so a tunnel
 * opened for an allowed name cannot carry a TLS session for another one. Returns undefined
 * when the SNI matches.
 */
const checkSni = (result: Awaited<ReturnType<typeof peekClientHello>>['result'], destination: Destination, missing: 'deny' | 'allow'): SniVerdict | undefined => {
  if (result.status === 'ok' && result.sni !== undefined) {
    const named = parseHost(result.sni);
    if (named.ok && named.value.kind === 'name' && named.value.host === destination.host.host) return undefined;
    return { deny: true, reason: 'sni-mismatch', sni: result.sni, detail: `TLS SNI "${result.sni}" does not match the CONNECT host ${destination.host.host}` };
  }
  if (result.status === 'invalid') return { deny: true, reason: 'sni-mismatch', detail: `malformed TLS ClientHello: ${result.error}` };
  // TLS to an IP address carries no SNI (RFC 6066 forbids IP literals there): nothing to compare.
  if (result.status === 'ok' && destination.host.kind === 'ip') return undefined;
  const what = result.status === 'ok' ? 'the ClientHello has no SNI'
    : result.status === 'not-tls' ? 'the client did not start TLS'
    : result.status === 'timeout' ? 'no ClientHello arrived in time' : 'the client closed the tunnel';
  return { deny: missing === 'deny' && result.status !== 'closed', reason: 'sni-missing', detail: `${what}; missing_sni is ${missing}` };
};

/**
 * Dials the checked address first (so a refused or blocked destination still gets a 502/403
 * answer to the CONNECT), then confirms the tunnel, peeks at the ClientHello, and relays the
 * untouched bytes only when the SNI names the CONNECT host. The origin sees a TCP connection
 * at most, never a byte, for a tunnel refused on its SNI.
 */
const splice = (
  runtime: ProxyRuntime, client: net.Socket, head: Buffer, destination: Destination, flow: FlowBuilder, target: string,
  refuse: (status: number, body: Buffer) => void,
): void => {
  const state = runtime.state();
  const abort = new AbortController();
  const onEarlyClose = (): void => abort.abort();
  client.once('close', onEarlyClose);
  client.on('error', () => abort.abort());
  state.dialer.dial(destination, { signal: abort.signal }).then(({ socket: upstream, address }) => {
    client.off('close', onEarlyClose);
    flow.fields.upstreamAddress = joinListenAddress(address, destination.port);
    flow.fields.timings = { upstreamConnectedAt: runtime.clock.now() };
    if (client.destroyed) {
      upstream.destroy();
      flow.fields.errorCode = 'PCL_ERR_CLIENT_ABORTED';
      flow.finish(runtime.clock.now());
      return;
    }
    flow.fields.status = 200;
    client.write(ESTABLISHED);
    upstream.on('error', () => {});
    void peekClientHello(client, head, state.config.timeouts.client_hello).then(({ result, buffered }) => {
      const refusal = checkSni(result, destination, state.config.missing_sni);
      if (result.status === 'ok' && result.sni !== undefined) flow.fields.sni = result.sni;
      if (refusal?.deny) {
        Object.assign(flow.fields, { verdict: 'deny', reason: refusal.reason, detail: refusal.detail });
        if (!state.config.dry_run) {
          upstream.destroy();
          const alert = refusal.reason === 'sni-mismatch' ? tlsAlert('unrecognized_name') : tlsAlert('access_denied');
          if (result.status === 'ok' || result.status === 'invalid') client.end(alert);
          else client.end();
          flow.finish(runtime.clock.now());
          return;
        }
        Object.assign(flow.fields, { verdict: 'allow', wouldDeny: true });
      } else if (refusal) {
        flow.fields.detail = refusal.detail;
      }
      if (result.status === 'closed' || client.destroyed) {
        upstream.destroy();
        // Half-open sockets are allowed, so a client that left must be closed explicitly.
        client.destroy();
        flow.fields.errorCode = 'PCL_ERR_CLIENT_ABORTED';
        flow.finish(runtime.clock.now());
        return;
      }
      if (buffered.length > 0) upstream.write(buffered);
      void relayTunnel(client, upstream, state.config.timeouts.tunnel_idle).then(() => {
        flow.fields.bytesUp = upstream.bytesWritten;
        flow.fields.bytesDown = upstream.bytesRead;
        flow.finish(runtime.clock.now());
      });
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
