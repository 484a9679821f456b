import type { Proxy } from '../proxy.js';
import type { FlowRing } from './flow-ring.js';
import type { FlowStream } from './flow-stream.js';
import type { LiveStats } from './flow-view.js';
import type { ProxyMetrics } from './metrics.js';
import type { RuleCounters } from './rule-counters.js';

/** The outcome of a config reload: applied, or refused with the problems (the old policy stays). */
export type ReloadResult =
  | { readonly ok: true; readonly rules: number }
  | { readonly ok: false; readonly problems: readonly string[]; readonly unavailable?: boolean };

/** What the admin API needs of the proxy. */
export type AdminProxy = Pick<Proxy, 'state' | 'stats' | 'ca' | 'listeners'>;

/** Everything the admin routes read; one per admin server. */
export interface AdminContext {
  readonly proxy: AdminProxy;
  readonly ring: FlowRing;
  readonly counters: RuleCounters;
  readonly metrics: ProxyMetrics;
  readonly stream: FlowStream;
  readonly version: string;
  liveStats(): LiveStats;
  /** Reloads the config file (as SIGHUP does); counted in metrics. */
  reload(): Promise<ReloadResult>;
  /** Epoch ms when the policy in force was loaded. */
  policyLoadedAt(): number;
  /** True once the proxy listeners are bound, until shutdown. */
  ready(): boolean;
}
