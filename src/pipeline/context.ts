import type { FlowRecord } from '../flow/flow-record.js';
import type { Logger } from '../logging/logger.js';
import type { ProxyState } from '../proxy-state.js';
import type { Clock } from '../runtime.js';
import type { RateLimiter } from './rate-limiter.js';

/** What the pipeline's stages need of the proxy: one per proxy instance, passed explicitly. */
export interface PipelineContext {
  /** The policy in force now; read once per decision. */
  state(): ProxyState;
  readonly clock: Clock;
  readonly logger: Logger;
  nextFlowId(): string;
  /** Called exactly once per finished flow (access log, dashboard, metrics). */
  recordFlow(record: FlowRecord): void;
  /** Per-client request budgets (`rules[].rate`), kept across reloads. */
  readonly rateLimiter: RateLimiter;
  /** The proxy's CA as clients download it (http://portcullis.invalid/); undefined before start(). */
  caForDownload(): { readonly certPem: string; readonly certDer: Buffer; readonly fingerprint256: string } | undefined;
}

/** A value now, or later: stages stay synchronous on the common path (no Promise per request). */
export type MaybePromise<T> = T | Promise<T>;

/** Runs `next` with the value, synchronously when it is already there. */
export const whenReady = <T>(value: MaybePromise<T>, next: (value: T) => void, onError: (error: unknown) => void): void => {
  if (value instanceof Promise) {
    value.then(next, onError);
    return;
  }
  try {
    next(value);
  } catch (error) {
    onError(error);
  }
};
