import { formatAuthority, type Destination } from '../flow/destination.js';
import { redactHeaders } from '../flow/redact-headers.js';
import { formatOriginalDestination, type OriginalDestination } from '../flow/original-destination.js';
import type { PeekResult } from '../net/peek-client-hello.js';
import { authenticate, type Credentials } from './authenticate.js';
import { checkEch } from './check-hello.js';
import { addonFlowView } from './addon-views.js';
import type { Decision } from '../policy/decision.js';
import { interceptNow, openThenRead, splice } from './tunnel-open.js';
import { whenReady, type MaybePromise, type PipelineContext } from './context.js';
import { decideTunnel, enforce, type Verdict } from './decide.js';
import type { PipelineDialer, UpstreamLink } from './dialing.js';
import { TunnelFlow, type FlowOrigin } from './flow.js';
import { identifyBySni, identifyConnect, type TunnelIdentification } from './identify-tunnel.js';
import type { TunnelContext } from './identify-request.js';
import { refuseByPolicy, refuseFailure, type Refusal } from './refusal.js';

/** A ClientHello peeked at without consuming it, and the bytes read so far. */
export interface HelloPeek {
  readonly result: PeekResult;
  readonly buffered: Buffer;
}

/**
 * The client end of a tunnel: a CONNECT on an explicit listener, or a connection a firewall
 * redirected to a transparent-tls listener. The I/O is the listener's; unit tests use a fake.
 */
export interface TunnelClient<L extends UpstreamLink> {
  readonly connection: Omit<FlowOrigin, 'id' | 'startedAt'>;
  /** CONNECT: the request as sent. Absent on transparent listeners. */
  readonly connect?: { readonly authority: string; readonly rawHeaders: readonly string[]; readonly credentials: Credentials };
  /** Transparent listeners: where the client dialed before the redirect (unknown: undefined). */
  readonly original?: OriginalDestination;
  /**
   * The ClientHello. A transparent connection starts with it (it names the destination); a
   * CONNECT tunnel sends it after the 200, so it is read only once the tunnel is established.
   */
  hello(): Promise<HelloPeek>;
  /** The tunnel is open: a CONNECT client gets its 200 now. Returns the bytes of that answer (0: none). */
  established(): number;
  /**
   * Turns the client away: an HTTP answer before the 200, else the TLS alert (or a close).
   * Returns what it wrote when that was an HTTP answer.
   */
  refuse(refusal: Refusal): WrittenAnswer | undefined;
  /** True once the client has gone. */
  gone(): boolean;
  /** Calls `abort` if the client goes; returns the unsubscribe. */
  onGone(abort: () => void): () => void;
  /** Decrypts the tunnel and serves each request inside through the request pipeline; `buffered` was read already. */
  intercept(tunnel: TunnelContext, buffered: Buffer): void;
  /** Serves the plain HTTP requests the client sends inside the tunnel through the request pipeline. */
  serveHttp(tunnel: TunnelContext, buffered: Buffer): void;
  /** Relays the untouched bytes (`buffered` first) both ways; resolves with the byte counts once both sides closed. */
  splice(upstream: L, buffered: Buffer): Promise<{ readonly up: number; readonly down: number }>;
  /** Ends a client that left half-open. */
  close(): void;
}

/** An HTTP answer as written on the wire: its status and its sizes (the Squid log counts them). */
export interface WrittenAnswer {
  readonly status: number;
  readonly headBytes: number;
  readonly bodyBytes: number;
}

export interface TunnelDeps<L extends UpstreamLink> {
  /** How to reach a destination a rule allowed: directly, or through that rule's (or the global) parent. */
  dialerFor(destination: Destination, rule: string | undefined): PipelineDialer<L>;
  /** Opens the origin's TLS connection ahead of the first request (whole-host rules only). */
  prewarm(destination: Destination, rule: string | undefined): void;
}

const openFlow = <L extends UpstreamLink>(context: PipelineContext, client: TunnelClient<L>): TunnelFlow => {
  const { client: peer, listener } = client.connection;
  const origin = { client: peer, listener, id: context.nextFlowId(), startedAt: context.clock.now() };
  const flow = new TunnelFlow(origin, client.connect?.authority ?? '-', (record) => context.recordFlow(record));
  if (client.connect) flow.requestHeaders(redactHeaders(client.connect.rawHeaders));
  if (client.original) flow.redirectedFrom(formatOriginalDestination(client.original));
  return flow;
};

/**
 * The tunnel pipeline: open flow -> authenticate (CONNECT) -> identify (CONNECT authority or
 * SNI, the one listener-specific step) -> decide (policy, original-destination verification,
 * dry run) -> intercept | splice (resolve once, dial the checked address, check the
 * ClientHello against the destination, relay) -> record.
 */
export const runTunnel = <L extends UpstreamLink>(context: PipelineContext, client: TunnelClient<L>, deps: () => TunnelDeps<L>): void => {
  const flow = openFlow(context, client);
  const finish = (): void => flow.finished(context.clock.now());
  const turnAway = (refusal: Refusal): void => {
    const written = client.refuse(refusal);
    if (written !== undefined) {
      flow.answered(written.status);
      flow.answeredWith(written.headBytes, written.bodyBytes);
    }
    finish();
  };
  const fail = (error: unknown): void => {
    context.logger.error({ err: error }, 'tunnel pipeline failed');
    flow.failed({ code: 'PCL_ERR_INTERNAL', message: String((error as Error | undefined)?.message ?? error) });
    turnAway(refuseFailure(flow, '-', error) ?? { response: { status: 500, headers: {}, body: '' } });
  };
  const stages = { context, client, flow, finish, fail, turnAway, deps };
  if (client.connect === undefined) {
    client.hello().then((hello) => {
      const identified = identifyBySni(hello.result, client.original, context.state().config.transparent.sni_missing);
      if (hello.result.status === 'ok' && hello.result.sni !== undefined) flow.sawSni(hello.result.sni);
      decideAndGo(stages, identified, undefined, hello);
    }).catch(fail);
    return;
  }
  const { connect } = client;
  whenReady(authenticate(context, flow, connect.credentials), (auth) => {
    if (!auth.ok) {
      turnAway(auth.refusal);
      return;
    }
    decideAndGo(stages, identifyConnect(connect.authority), auth.user, undefined);
  }, fail);
};

/** What the stages after the decision share: the context, the client, its flow and the ways a tunnel ends. */
export interface Stages<L extends UpstreamLink> {
  readonly context: PipelineContext;
  readonly client: TunnelClient<L>;
  readonly flow: TunnelFlow;
  readonly deps: () => TunnelDeps<L>;
  finish(): void;
  fail(error: unknown): void;
  turnAway(refusal: Refusal): void;
}

const decideAndGo = <L extends UpstreamLink>(
  stages: Stages<L>, identified: TunnelIdentification, user: string | undefined, hello: HelloPeek | undefined,
): void => {
  const { context, client, flow } = stages;
  if (!identified.ok) {
    flow.refused(identified.reason, identified.detail);
    if (identified.aborted) {
      flow.clientLeft();
      client.close();
      stages.finish();
      return;
    }
    stages.turnAway(identified.refusal);
    return;
  }
  const { destination } = identified;
  flow.identified(destination, formatAuthority(destination));
  const { addons } = context.state();
  const verdict: MaybePromise<Verdict> = decideTunnel(context, {
    ...(addons.has('connect') ? {
      addons: (decision: Decision) => addons.decide({ hook: 'connect', flow: addonFlowView(flow, 'tunnel', destination, decision) }, decision),
    } : {}),
    flow, destination, user, target: client.connect?.authority ?? formatAuthority(destination), plainHttp: client.connect !== undefined,
    ...(client.connect === undefined && !identified.byOriginalDestination
      ? { redirect: { verify: context.state().config.transparent.verify_original_destination, original: client.original } }
      : {}),
  });
  whenReady(verdict, (decided) => {
    if (!decided.pass) {
      stages.turnAway(decided.refusal);
      return;
    }
    if (identified.byOriginalDestination) flow.noted('no SNI: routed by original destination (transparent.sni_missing)');
    if (client.gone()) {
      flow.clientLeft();
      stages.finish();
      return;
    }
    const { decision } = decided;
    const intercepting = decision.verdict === 'allow' && decision.intercept;
    if (hello === undefined) {
      // CONNECT: what the client sends after the 200 decides (TLS, or plain HTTP); a tunnel
      // that will be spliced is dialed first, so a refused destination still gets its 502/403.
      if (intercepting || decided.plainOnly !== undefined) openThenRead(stages, destination, decided);
      else splice(stages, destination, decided, undefined);
      return;
    }
    if (intercepting) {
      interceptNow(stages, destination, decision, hello.buffered);
      return;
    }
    // A transparent client's hello is known already: refuse an ECH hello before anything is dialed.
    const ech = checkEch(hello.result, decision.verdict === 'allow' && decision.allowEch, flow.decidingRule);
    if (!ech.ok) {
      const verdict = enforce(context, flow, ech.decision, formatAuthority(destination));
      if (!verdict.pass) {
        stages.turnAway(refuseByPolicy(formatAuthority(destination), ech.decision, ech.alert ?? null));
        return;
      }
    }
    splice(stages, destination, decided, hello);
  }, stages.fail);
};
