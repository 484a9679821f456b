import type { PipelineContext } from './pipeline/context.js';
import type { CertificateAuthority } from './tls/certificate-authority.js';
import type { UpstreamPools } from './net/upstream-pools.js';

/** A source of time, injected so tests and logs agree. */
export interface Clock {
  now(): number;
}

/** What the listeners and their I/O need besides the pipeline's context; one per proxy instance. */
export interface ProxyRuntime extends PipelineContext {
  /** Keep-alive upstream connection pools, plain and verified TLS (intercepted and https:// URLs). */
  readonly upstreamPools: UpstreamPools;
  /** Users identified by a client certificate, by the TLS socket they connected with. */
  readonly certificateUsers: WeakMap<object, string>;
  /** The CA that mints leaf certificates; loaded by start(). */
  ca(): CertificateAuthority;
}
