import type net from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import { clientIpOf } from '../flow/client-address.js';
import { formatAuthority, type Destination } from '../flow/destination.js';
import { createFlowBuilder, type FlowBuilder } from '../flow/flow-builder.js';
import { parseHost } from '../flow/host.js';
import { PortcullisError, isPortcullisError } from '../errors.js';
import type { ListenerInfo } from '../http/forward-request.js';
import { deny, type Decision, type DenyReason } from '../policy/decision.js';
import type { ProxyRuntime } from '../runtime.js';
import { clientTlsProfile } from '../tls/client-tls-profile.js';
import { createInterceptor } from '../tls/tls-interceptor.js';
import { createAcceptLoop } from './accept-loop.js';
import { createConnectionLimiter } from './connection-limiter.js';
import type { Listener } from './explicit-listener.js';
import { formatOriginalDestination, type OriginalDestination } from './original-destination.js';
import { peekClientHello, tlsAlert, type PeekResult } from './peek-client-hello.js';
import type { TransparentListenerDeps } from './transparent-http-listener.js';
import { relayTunnel } from './tunnel-relay.js';
import { createOriginalDestinationVerifier } from './verify-original-destination.js';

/** Where a peeked ClientHello says to go, or why it says nothing usable. */
type Target =
  | { readonly ok: true; readonly destination: Destination; readonly byOriginalDestination: boolean }
  | { readonly ok: false; readonly reason: DenyReason; readonly detail: string; readonly alert: boolean };

/**
 * The destination of a transparent TLS connection: the SNI host, on the port the client dialed
 * (443 when unknown). Without SNI, the original destination address when the config allows
 * routing by it (`transparent.sni_missing: original-destination`); the policy then judges
 * that IP, so only an IP/CIDR rule can allow it.
 */
export const transparentTlsTarget = (
  result: PeekResult, original: OriginalDestination | undefined, sniMissing: 'deny' | 'original-destination',
): Target => {
  const port = original?.port ?? 443;
  if (result.status === 'ok' && result.sni !== undefined) {
    const named = parseHost(result.sni);
    if (!named.ok) return { ok: false, reason: 'invalid-destination', detail: `TLS SNI "${result.sni}": ${named.error}`, alert: true };
    return { ok: true, destination: { host: named.value, port }, byOriginalDestination: false };
  }
  if (result.status === 'invalid') return { ok: false, reason: 'invalid-destination', detail: `malformed TLS ClientHello: ${result.error}`, alert: true };
  if (result.status !== 'ok') {
    const what = result.status === 'not-tls' ? 'the client did not start TLS'
      : result.status === 'timeout' ? 'no ClientHello arrived in time' : 'the client closed the connection before a ClientHello';
    return { ok: false, reason: 'sni-missing', detail: what, alert: false };
  }
  if (sniMissing === 'deny') {
    return { ok: false, reason: 'sni-missing', detail: 'the ClientHello has no SNI; transparent.sni_missing is deny', alert: true };
  }
  if (original === undefined) {
    return { ok: false, reason: 'sni-missing', detail: 'the ClientHello has no SNI and the original destination is unknown, so it cannot be routed by it', alert: true };
  }
  const host = parseHost(original.family === 6 ? `[${original.address}]` : original.address);
  if (!host.ok) return { ok: false, reason: 'invalid-destination', detail: host.error, alert: true };
  return { ok: true, destination: { host: host.value, port: original.port }, byOriginalDestination: true };
};

/**
 * A transparent-tls listener: connections redirected by the firewall (REDIRECT of port 443)
 * start with a ClientHello. Its SNI is peeked without consuming it and judged like a CONNECT:
 * deny ends the connection with a TLS alert and a log line; intercept hands the connection to
 * the interceptor (rules with paths, methods or inspect); otherwise the untouched bytes are
 * spliced to the checked address of the SNI host, never decrypted.
 */
export const createTransparentTlsListener = (runtime: ProxyRuntime, config: ListenerConfig, deps: TransparentListenerDeps): Listener => {
  const limiter = createConnectionLimiter(() => {
    const { limits } = runtime.state().config;
    return { maxConnections: limits.max_connections, maxConnectionsPerClient: limits.max_connections_per_client };
  });
  const verify = createOriginalDestinationVerifier(runtime, deps.lookup);
  const loop = createAcceptLoop(config.address, (socket) => handle(socket));
  const info: ListenerInfo = { get id() { return loop.address(); }, mode: 'transparent-tls' };
  const interceptor = createInterceptor(runtime, info, clientTlsProfile(config), () => runtime.ca());

  const handle = (client: net.Socket): void => {
    const startedAt = runtime.clock.now();
    const original = deps.originalDestination.lookup(client);
    const flow = createFlowBuilder({
      id: runtime.nextFlowId(), kind: 'tunnel', startedAt, listener: loop.address(), method: 'CONNECT', url: '-', host: '-', port: 0,
      client: { address: clientIpOf(client.remoteAddress), port: client.remotePort ?? 0 },
    }, (record) => runtime.recordFlow(record));
    if (original !== undefined) flow.fields.originalDestination = formatOriginalDestination(original);
    const admission = limiter.admit(client);
    if (!admission.ok) {
      Object.assign(flow.fields, { verdict: 'deny', reason: 'connection-limit', detail: admission.reason });
      client.destroy();
      flow.finish(runtime.clock.now());
      return;
    }
    void peekClientHello(client, Buffer.alloc(0), runtime.state().config.timeouts.client_hello)
      .then(({ result, buffered }) => decide(client, flow, original, result, buffered))
      .catch((error: unknown) => {
        runtime.logger.error({ err: error }, 'transparent TLS handler failed');
        Object.assign(flow.fields, { errorCode: 'PCL_ERR_INTERNAL', detail: String((error as Error)?.message ?? error) });
        client.destroy();
        flow.finish(runtime.clock.now());
      });
  };

  const refuse = (client: net.Socket, flow: FlowBuilder, alert: boolean): void => {
    if (alert) client.end(tlsAlert('access_denied'));
    else client.end();
    client.resume(); // drain what the client still sends until it closes
    flow.finish(runtime.clock.now());
  };

  const decide = async (client: net.Socket, flow: FlowBuilder, original: OriginalDestination | undefined, result: PeekResult, buffered: Buffer): Promise<void> => {
    const state = runtime.state();
    if (result.status === 'ok' && result.sni !== undefined) flow.fields.sni = result.sni;
    if (result.status === 'closed') {
      Object.assign(flow.fields, { verdict: 'deny', reason: 'sni-missing', detail: 'the client closed the connection before a ClientHello', errorCode: 'PCL_ERR_CLIENT_ABORTED' });
      client.destroy();
      flow.finish(runtime.clock.now());
      return;
    }
    const target = transparentTlsTarget(result, original, state.config.transparent.sni_missing);
    if (!target.ok) {
      Object.assign(flow.fields, { verdict: 'deny', reason: target.reason, detail: target.detail });
      refuse(client, flow, target.alert);
      return;
    }
    const { destination } = target;
    Object.assign(flow.fields, { host: destination.host.host, port: destination.port, url: formatAuthority(destination) });
    let decision: Decision = state.policy.decideConnection({ destination, clientIp: flow.fields.client?.address ?? '', transport: 'tls' });
    if (decision.verdict === 'allow' && !target.byOriginalDestination) {
      const mismatch = await verify(destination, original);
      if (mismatch !== undefined) decision = { ...mismatch, rule: decision.rule };
    }
    if (decision.verdict === 'deny') {
      Object.assign(flow.fields, { verdict: 'deny', reason: decision.reason, rule: decision.rule, detail: decision.detail });
      if (!state.config.dry_run) {
        refuse(client, flow, true);
        return;
      }
      Object.assign(flow.fields, { verdict: 'allow', wouldDeny: true });
    } else {
      Object.assign(flow.fields, { verdict: 'allow', reason: decision.reason, rule: decision.rule });
    }
    if (target.byOriginalDestination && flow.fields.detail === undefined) {
      flow.fields.detail = 'no SNI: routed by original destination (transparent.sni_missing)';
    }
    if (client.destroyed) {
      flow.fields.errorCode = 'PCL_ERR_CLIENT_ABORTED';
      flow.finish(runtime.clock.now());
      return;
    }
    if (decision.verdict === 'allow' && decision.intercept) {
      flow.fields.status = 200;
      // A rule allows every request here: the origin's handshake can overlap the client's.
      if (decision.wholeHost) runtime.upstreamPools.prewarm(destination);
      // Hand over on a later turn of the event loop: wrapping the socket's handle in a TLSSocket
      // while its 'data' dispatch (that delivered the ClientHello) is still unwinding stalls the
      // handshake when the certificate is already cached (seen on Node 20).
      setImmediate(() => interceptor.intercept(client, buffered, { flowId: flow.id, destination, client: flow.fields.client ?? { address: '', port: 0 } }, flow));
      return;
    }
    flow.fields.tunnelMode = 'splice';
    splice(client, flow, destination, buffered);
  };

  /** Dials the checked address of the destination and relays the untouched bytes both ways. */
  const splice = (client: net.Socket, flow: FlowBuilder, destination: Destination, buffered: Buffer): void => {
    const state = runtime.state();
    const abort = new AbortController();
    const onEarlyClose = (): void => abort.abort();
    client.once('close', onEarlyClose);
    state.dialer.dial(destination, { signal: abort.signal }).then(({ socket: upstream, address }) => {
      client.off('close', onEarlyClose);
      flow.fields.upstreamAddress = `${address.includes(':') ? `[${address}]` : address}:${destination.port}`;
      upstream.on('error', () => {});
      if (client.destroyed) {
        upstream.destroy();
        flow.fields.errorCode = 'PCL_ERR_CLIENT_ABORTED';
        flow.finish(runtime.clock.now());
        return;
      }
      flow.fields.status = 200;
      upstream.write(buffered);
      void relayTunnel(client, upstream, state.config.timeouts.tunnel_idle).then(() => {
        flow.fields.bytesUp = upstream.bytesWritten;
        flow.fields.bytesDown = upstream.bytesRead;
        flow.finish(runtime.clock.now());
      });
    }, (error: unknown) => {
      client.off('close', onEarlyClose);
      const failure = isPortcullisError(error) ? error : new PortcullisError('PCL_ERR_UPSTREAM_FAILED', String((error as Error)?.message ?? error));
      flow.fields.errorCode = failure.code;
      flow.fields.detail = failure.message;
      if (failure.code === 'PCL_ERR_ADDRESS_BLOCKED') {
        const blocked = deny('address-blocked', flow.fields.rule, failure.message);
        Object.assign(flow.fields, { verdict: 'deny', reason: blocked.reason });
        refuse(client, flow, true);
        return;
      }
      // The client sees the connection close, as if the origin had refused it.
      client.destroy();
      flow.finish(runtime.clock.now());
    });
  };

  return {
    config,
    address: () => loop.address(),
    connections: () => loop.sockets.size,
    listen: () => {
      deps.originalDestination.status(); // loads the addon now, logging once what is available
      return loop.listen();
    },
    close: (graceMs = 0) => loop.close(graceMs).then(() => interceptor.close()),
  };
};
