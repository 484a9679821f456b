import type { FlowRecord } from '../flow/flow-record.js';

/**
 * The admin API's view of one finished flow (docs/admin-api.md). Types only: the dashboard
 * (web/) imports them too, so this file must stay free of runtime code and node imports.
 */

/** allow, deny, or would-deny (dry run: the policy denied it, the proxy let it pass). */
export type FlowDecision = 'allow' | 'deny' | 'would-deny';

export type FlowView = FlowRecord & {
  /** Position in this admin instance's flow buffer: increases by one per flow, never reused. */
  readonly seq: number;
  readonly decision: FlowDecision;
};

/** What the live stream and list rows carry: a flow without its headers. */
export type FlowSummary = Omit<FlowView, 'requestHeaders' | 'responseHeaders'>;

/** Counters shown in the dashboard's header and the console summary line. */
export interface LiveStats {
  /** Flows finished since start. */
  readonly flows: number;
  readonly denied: number;
  readonly wouldDeny: number;
  /** Client connections open now. */
  readonly activeConnections: number;
  /** Flows finished per second, averaged over the last few seconds. */
  readonly flowsPerSecond: number;
  readonly uptimeSeconds: number;
}
