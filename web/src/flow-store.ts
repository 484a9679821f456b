import type { FlowSummary } from '../../src/admin/flow-view.js';

/**
 * The flows this tab knows, newest last, bounded like the server's buffer. "Clear" hides what
 * arrived so far in this tab only; the server keeps its buffer.
 */
export interface FlowStore {
  add(batch: readonly FlowSummary[]): void;
  all(): readonly FlowSummary[];
  get(id: string): FlowSummary | undefined;
  lastSeq(): number;
  setCapacity(capacity: number): void;
  clear(): void;
  onChange(listener: (added: readonly FlowSummary[]) => void): void;
}

const HARD_LIMIT = 20_000;

export const createFlowStore = (): FlowStore => {
  let flows: FlowSummary[] = [];
  const byId = new Map<string, FlowSummary>();
  let capacity = 1000;
  let seq = 0;
  const listeners: ((added: readonly FlowSummary[]) => void)[] = [];

  const trim = (): void => {
    const excess = flows.length - capacity;
    if (excess <= 0) return;
    for (const flow of flows.slice(0, excess)) byId.delete(flow.id);
    flows = flows.slice(excess);
  };

  return {
    add(batch) {
      const added = batch.filter((flow) => flow.seq > seq);
      for (const flow of added) {
        flows.push(flow);
        byId.set(flow.id, flow);
        seq = flow.seq;
      }
      trim();
      if (added.length > 0) for (const listener of listeners) listener(added);
    },
    all: () => flows,
    get: (id) => byId.get(id),
    lastSeq: () => seq,
    setCapacity(next) {
      capacity = Math.max(1, Math.min(HARD_LIMIT, next));
      trim();
    },
    clear() {
      flows = [];
      byId.clear();
      for (const listener of listeners) listener([]);
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
};
