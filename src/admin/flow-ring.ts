import type { FlowRecord } from '../flow/flow-record.js';
import type { FlowView } from './flow-view.js';
import { toFlowView } from './to-flow-view.js';

export interface FlowListOptions {
  /** Only flows with a larger seq, oldest first (paging forward); otherwise the newest ones. */
  readonly after?: number;
  readonly limit?: number;
  readonly match?: (flow: FlowView) => boolean;
}

/** The last `capacity` flows, in order; memory is bounded by the capacity, whatever the traffic. */
export interface FlowRing {
  readonly capacity: number;
  /** Numbers the record, keeps it (evicting the oldest when full) and returns its view. */
  push(record: FlowRecord): FlowView;
  get(id: string): FlowView | undefined;
  /** Matching flows in seq order (oldest first). */
  list(options?: FlowListOptions): FlowView[];
  /** seq of the newest flow pushed; 0 before any. */
  lastSeq(): number;
  size(): number;
}

export const createFlowRing = (capacity: number): FlowRing => {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`flow buffer capacity must be a positive integer, got ${capacity}`);
  const slots: (FlowView | undefined)[] = new Array(capacity);
  const byId = new Map<string, FlowView>();
  let seq = 0;

  /** The view at age `i` (0 = oldest kept). */
  const at = (i: number, count: number): FlowView => slots[(seq - count + i) % capacity] as FlowView;
  const count = (): number => Math.min(seq, capacity);

  return {
    capacity,
    push(record) {
      seq += 1;
      const view = toFlowView(record, seq);
      const slot = (seq - 1) % capacity;
      const evicted = slots[slot];
      if (evicted !== undefined && byId.get(evicted.id) === evicted) byId.delete(evicted.id);
      slots[slot] = view;
      byId.set(view.id, view);
      return view;
    },
    get: (id) => byId.get(id),
    list(options = {}) {
      const n = count();
      const limit = Math.max(0, Math.min(options.limit ?? n, n));
      const match = options.match ?? (() => true);
      const found: FlowView[] = [];
      if (options.after !== undefined) {
        const after = options.after;
        // seq of the oldest kept is seq - n + 1: skip straight to the first one after `after`.
        const start = Math.max(0, Math.min(n, after - (seq - n)));
        for (let i = start; i < n && found.length < limit; i += 1) {
          const view = at(i, n);
          if (match(view)) found.push(view);
        }
        return found;
      }
      for (let i = n - 1; i >= 0 && found.length < limit; i -= 1) {
        const view = at(i, n);
        if (match(view)) found.push(view);
      }
      return found.reverse();
    },
    lastSeq: () => seq,
    size: count,
  };
};
