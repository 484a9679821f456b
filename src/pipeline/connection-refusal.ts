import type { PipelineContext } from './context.js';
import { HttpFlow, TunnelFlow, type FlowOrigin } from './flow.js';

/** A connection turned away before any request or tunnel could be read (limits, unparsable bytes). */
export interface ConnectionRefusal {
  readonly kind: 'http' | 'tunnel';
  readonly connection: Omit<FlowOrigin, 'id' | 'startedAt'>;
  readonly reason: string;
  readonly detail: string;
  /** The status written to the client; 0 when it was closed without an answer. */
  readonly status: number;
  readonly method?: string;
  readonly originalDestination?: string;
}

/** Records the one access-log line such a connection gets. */
export const recordConnectionRefusal = (context: PipelineContext, refusal: ConnectionRefusal): void => {
  const origin = { ...refusal.connection, id: context.nextFlowId(), startedAt: context.clock.now() };
  const sink = (record: Parameters<PipelineContext['recordFlow']>[0]): void => context.recordFlow(record);
  const flow = refusal.kind === 'tunnel' ? new TunnelFlow(origin, '-', sink) : new HttpFlow(origin, refusal.method ?? '-', '-', sink);
  if (refusal.originalDestination !== undefined) flow.redirectedFrom(refusal.originalDestination);
  flow.refused(refusal.reason, refusal.detail);
  flow.answered(refusal.status);
  flow.finished(context.clock.now());
};
