import type { FlowRecord } from './flow/flow-record.js';
import type { Logger } from './logging/logger.js';
import type { ProxyState } from './proxy-state.js';
import type { CertificateAuthority } from './tls/certificate-authority.js';
import type { UpstreamPools } from './net/upstream-pools.js';

/** A source of time, injected so tests and logs agree. */
export interface Clock {
  now(): number;
}

/** What every connection handler needs; one per proxy instance, passed explicitly. */
export interface ProxyRuntime {
  /** The policy in force now; read once per decision. */
  state(): ProxyState;
  readonly clock: Clock;
  readonly logger: Logger;
  nextFlowId(): string;
  /** Called exactly once per finished flow (access log, dashboard, metrics). */
  recordFlow(record: FlowRecord): void;
  /** Keep-alive upstream connection pools, plain and verified TLS (intercepted and https:// URLs). */
  readonly upstreamPools: UpstreamPools;
  /** Users identified by a client certificate, by the TLS socket they connected with. */
  readonly certificateUsers: WeakMap<object, string>;
  /** The CA that mints leaf certificates; loaded by start(). */
  ca(): CertificateAuthority;
}
