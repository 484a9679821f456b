import type { ProxyConfig } from '../config/schema.js';
import type { FlowRecord } from '../flow/flow-record.js';

/** Counters a worker reports; the primary adds them up. */
export interface WorkerStats {
  readonly flows: number;
  readonly denied: number;
  readonly wouldDeny: number;
  readonly activeConnections: number;
}

/** Primary → worker. */
export type ToWorker =
  | {
    readonly type: 'start'; readonly config: ProxyConfig; readonly logHere: boolean; readonly sendFlows: boolean;
    /** Workers sharing the listeners: each keeps 1/workers of every DNS client budget. */
    readonly workers: number;
  }
  | { readonly type: 'reopen-log' }
  | { readonly type: 'reload'; readonly config: ProxyConfig; readonly seq: number }
  | { readonly type: 'shutdown'; readonly graceMs: number };

/** Worker → primary. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'listening'; readonly addresses: readonly string[] }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'flows'; readonly records: readonly FlowRecord[]; readonly stats: WorkerStats }
  | { readonly type: 'reloaded'; readonly seq: number; readonly ok: boolean; readonly message?: string };
