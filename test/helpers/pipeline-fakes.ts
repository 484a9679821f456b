/**
 * Fakes for the pipeline's unit tests: a context around a real compiled policy, an exchange and
 * a tunnel client that record what the pipeline did to them, and a dialer that records what it
 * was asked to connect to. No socket is ever opened.
 */
import type { BasicAuthenticator } from '../../src/auth/basic-authenticator.js';
import type { Destination } from '../../src/flow/destination.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import type { OriginalDestination } from '../../src/flow/original-destination.js';
import type { SyntheticResponse } from '../../src/http/deny-response.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { PeekResult } from '../../src/net/peek-client-hello.js';
import type { LookupAll } from '../../src/net/resolver.js';
import type { UpstreamDialer } from '../../src/net/upstream-dialer.js';
import type { PipelineContext } from '../../src/pipeline/context.js';
import { createRateLimiter } from '../../src/pipeline/rate-limiter.js';
import type { CheckedDestination, UpstreamLink } from '../../src/pipeline/dialing.js';
import type { RequestSource, TunnelContext } from '../../src/pipeline/identify-request.js';
import type { ForwardRoute, RequestExchange } from '../../src/pipeline/request-pipeline.js';
import type { Refusal } from '../../src/pipeline/refusal.js';
import type { TunnelClient, TunnelDeps } from '../../src/pipeline/tunnel-pipeline.js';
import { buildProxyState, type ProxyState } from '../../src/proxy-state.js';
import { testConfig, type TestConfigInput } from './test-proxy.js';

export interface FakeContext extends PipelineContext {
  readonly flows: FlowRecord[];
  /** Resolves once `n` flows were recorded (rejects after 2 s). */
  waitForFlows(n: number): Promise<FlowRecord[]>;
}

/** A lookup that answers from a table (unknown names fail like DNS would). */
export const tableLookup = (table: Record<string, string[]>): LookupAll & { calls: string[] } => {
  const calls: string[] = [];
  const lookup = async (hostname: string): Promise<Array<{ address: string; family: number }>> => {
    calls.push(hostname);
    const answers = table[hostname];
    if (answers === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(lookup, { calls });
};

/** An authenticator with one user, alice:secret, answering at once. */
export const fakeAuthenticator: BasicAuthenticator = {
  challenge: 'Basic realm="test"',
  authenticate: (header) => {
    if (!header) return { ok: false, reason: 'credentials-missing', detail: 'this proxy requires authentication' };
    if (header === `Basic ${Buffer.from('alice:secret').toString('base64')}`) return { ok: true, user: 'alice' };
    return { ok: false, reason: 'credentials-invalid', detail: 'wrong user name or password' };
  },
};

export const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Every destination through one dialer. */
const fixedRoute = (dialer: UpstreamDialer): ProxyState['upstream'] => {
  const route = { key: 'direct', tunnel: dialer, http: dialer };
  return { routeFor: () => route, byKey: () => route };
};

/** A pipeline context on a real policy compiled from `input` (test defaults: loopback allowed). */
export const fakeContext = (
  input: TestConfigInput, options: { lookup?: LookupAll; authenticator?: BasicAuthenticator; dialer?: UpstreamDialer } = {},
): FakeContext => {
  const built = buildProxyState(testConfig(input), { ...(options.lookup ? { lookup: options.lookup } : {}) });
  const state: ProxyState = Object.freeze({
    ...built,
    ...(options.authenticator ? { authenticator: options.authenticator } : {}),
    ...(options.dialer ? { upstream: fixedRoute(options.dialer) } : {}),
  });
  const flows: FlowRecord[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let next = 0;
  return {
    flows,
    waitForFlows: (n) => new Promise((resolve, reject) => {
      if (flows.length >= n) {
        resolve(flows);
        return;
      }
      const timer = setTimeout(() => reject(new Error(`expected ${n} flows, saw ${flows.length}`)), 2000);
      waiters.push({ n, resolve: () => {
        clearTimeout(timer);
        resolve(flows);
      } });
    }),
    state: () => state,
    clock: { now: () => 1_000_000 },
    logger: silentLogger,
    nextFlowId: () => `flow-${(next += 1)}`,
    recordFlow: (record) => {
      flows.push(record);
      for (const waiter of waiters.filter((w) => flows.length >= w.n)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    },
    rateLimiter: createRateLimiter(),
    caForDownload: () => ({ certPem: '-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n', certDer: Buffer.from('fake'), fingerprint256: 'AA:BB' }),
  };
};

export interface ExchangeInput {
  readonly method?: string;
  readonly target: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly source: RequestSource;
  readonly version?: readonly [number, number];
  /** Set on listeners that authenticate (explicit). */
  readonly proxyAuthorization?: string;
  readonly authenticates?: boolean;
  readonly upgrade?: string;
  readonly client?: string;
}

export interface ExchangeRecord {
  readonly answers: SyntheticResponse[];
  readonly forwards: ForwardRoute[];
  /** Settles once the pipeline answered or forwarded. */
  readonly done: Promise<void>;
}

/** A request exchange that records the pipeline's answer or forward, and finishes the flow then. */
export const fakeExchange = (input: ExchangeInput): { exchange: RequestExchange; record: ExchangeRecord } => {
  let settle: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const record: ExchangeRecord = { answers: [], forwards: [], done };
  const exchange: RequestExchange = {
    head: {
      method: input.method ?? 'GET', target: input.target, rawHeaders: (input.headers ?? []).flat(),
      httpVersionMajor: input.version?.[0] ?? 1, httpVersionMinor: input.version?.[1] ?? 1, local: { address: '127.0.0.1', port: 3128 },
    },
    source: input.source,
    connection: {
      client: input.source.kind === 'tunnel' ? input.source.tunnel.flow.client : { address: input.client ?? '10.1.1.1', port: 40000 },
      listener: '127.0.0.1:3128',
    },
    credentials: input.authenticates === false || input.source.kind !== 'explicit'
      ? undefined
      : { certificateUser: undefined, proxyAuthorization: input.proxyAuthorization, target: input.target },
    upgrade: input.upgrade,
    begin: () => {},
    answer: (flow, response) => {
      record.answers.push(response);
      flow.answered(response.status);
      flow.finished(1_000_001);
      settle();
    },
    forward: (route) => {
      record.forwards.push(route);
      route.flow.answered(200);
      route.flow.finished(1_000_001);
      settle();
    },
  };
  return { exchange, record };
};

export interface FakeLink extends UpstreamLink {
  readonly destroyed: () => boolean;
}

/** A dialer that resolves through `lookup` (like the real one, with the real address guard) and records every connect. */
export const recordingDialer = (real: UpstreamDialer): UpstreamDialer & { connects: CheckedDestination[] } => {
  const connects: CheckedDestination[] = [];
  return {
    connects,
    check: (destination) => real.check(destination),
    connect: async (checked) => {
      connects.push(checked);
      return { address: checked.allowed[0] ?? '', socket: { destroy: () => {} } as never };
    },
    dial: async (destination) => {
      const checked = await real.check(destination);
      connects.push(checked);
      return { address: checked.allowed[0] ?? '', socket: { destroy: () => {} } as never };
    },
  };
};

export interface TunnelRecord {
  established: number;
  readonly refusals: Refusal[];
  readonly intercepted: TunnelContext[];
  readonly spliced: Array<{ address: string; buffered: Buffer }>;
  readonly servedHttp: Array<{ tunnel: TunnelContext; buffered: Buffer }>;
  readonly connects: CheckedDestination[];
  readonly prewarmed: Destination[];
  /** Settles once the tunnel flow was recorded. */
  readonly done: Promise<void>;
}

export interface TunnelInput {
  /** CONNECT authority (explicit listener); absent for transparent-tls. */
  readonly connect?: string;
  readonly proxyAuthorization?: string;
  readonly hello: PeekResult;
  readonly original?: OriginalDestination;
  readonly client?: string;
  /** What the client sent after the CONNECT (defaults: an HTTP request line when not TLS, else placeholder hello bytes). */
  readonly buffered?: string;
}

/** A tunnel client and its deps, recording what the tunnel pipeline did. */
export const fakeTunnel = (context: FakeContext, input: TunnelInput): { client: TunnelClient<FakeLink>; deps: () => TunnelDeps<FakeLink>; record: TunnelRecord } => {
  let settle: () => void = () => {};
  const flowsBefore = context.flows.length;
  // Done when the tunnel's flow is recorded, or when it was handed to the interceptor (which records it later).
  const done = Promise.race([context.waitForFlows(flowsBefore + 1).then(() => {}, () => {}), new Promise<void>((resolve) => {
    settle = resolve;
  })]);
  const record: TunnelRecord = { established: 0, refusals: [], intercepted: [], spliced: [], servedHttp: [], connects: [], prewarmed: [], done };
  const hello = { result: input.hello, buffered: Buffer.from(input.buffered ?? (input.hello.status === 'not-tls' ? 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' : 'hello-bytes')) };
  let speaksHttp = input.connect !== undefined;
  const client: TunnelClient<FakeLink> = {
    connection: { client: { address: input.client ?? '10.1.1.1', port: 40000 }, listener: '127.0.0.1:3128' },
    ...(input.connect !== undefined ? {
      connect: {
        authority: input.connect, rawHeaders: input.proxyAuthorization ? ['Proxy-Authorization', input.proxyAuthorization] : [],
        credentials: { certificateUser: undefined, proxyAuthorization: input.proxyAuthorization, target: input.connect },
      },
    } : {}),
    ...(input.original ? { original: input.original } : {}),
    hello: async () => hello,
    established: () => {
      record.established += 1;
      const wrote = speaksHttp ? 39 : 0;
      speaksHttp = false;
      return wrote;
    },
    refuse: (refusal) => {
      record.refusals.push(refusal);
      return speaksHttp ? { status: refusal.response.status, headBytes: 100, bodyBytes: 50 } : undefined;
    },
    gone: () => false,
    onGone: () => () => {},
    intercept: (tunnel) => {
      record.intercepted.push(tunnel);
      settle();
    },
    serveHttp: (tunnel, buffered) => {
      record.servedHttp.push({ tunnel, buffered });
      settle();
    },
    splice: async (upstream, buffered) => {
      record.spliced.push({ address: upstream.address, buffered });
      return { up: 10, down: 20 };
    },
    close: () => {},
  };
  const dialer = context.state().upstream.routeFor({ host: { kind: 'name', host: '-' }, port: 0 }, undefined).tunnel;
  const deps = (): TunnelDeps<FakeLink> => ({
    dialerFor: () => ({
      check: (destination) => dialer.check(destination),
      connect: async (checked) => {
        record.connects.push(checked);
        return { address: checked.allowed[0] ?? '', socket: { destroy: () => {} }, destroyed: () => false };
      },
    }),
    prewarm: (destination) => record.prewarmed.push(destination),
  });
  return { client, deps, record };
};
