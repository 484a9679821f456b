import type { FlowRecord } from './flow-record.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Accumulates one flow's facts as they become known; `finish` builds the immutable record once. */
export interface FlowBuilder {
  readonly id: string;
  readonly fields: Mutable<Partial<FlowRecord>>;
  /** Builds the record and hands it on; later calls do nothing. */
  finish(now: number): void;
}

export const createFlowBuilder = (
  base: Pick<FlowRecord, 'id' | 'kind' | 'startedAt' | 'client' | 'listener' | 'method' | 'url' | 'host' | 'port'> & { parentId?: string },
  sink: (record: FlowRecord) => void,
): FlowBuilder => {
  const fields: Mutable<Partial<FlowRecord>> = {};
  let finished = false;
  return {
    id: base.id,
    fields,
    finish(now) {
      if (finished) return;
      finished = true;
      const record: FlowRecord = {
        ...base,
        verdict: 'deny',
        reason: 'unknown',
        status: 0,
        bytesUp: 0,
        bytesDown: 0,
        ...fields,
        durationMs: Math.max(0, now - base.startedAt),
      };
      sink(record);
    },
  };
};
