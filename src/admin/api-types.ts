import type { Proposal, ProposedRule, SetAside } from '../learn/proposal.js';
import type { ReplaySummary } from '../learn/replay-summary.js';
import type { Decision } from '../policy/decision.js';

/**
 * Shapes of admin API answers (docs/admin-api.md). Types only: the dashboard imports them,
 * so this file must stay free of runtime code.
 */

/** Hits of one rule since start: flows it allowed, and denials that named it as the closest rule. */
export interface RuleHits {
  readonly allowed: number;
  readonly denied: number;
  readonly wouldDeny: number;
  /** mode: report rules: denials the rule would have allowed. */
  readonly wouldAllow: number;
  /** Epoch ms of the latest flow naming the rule; 0 when none. */
  readonly lastHitAt: number;
}

export interface ExplainStage {
  /** 'tunnel': the CONNECT (or SNI) decision; 'request': the decision on the request itself. */
  readonly stage: 'tunnel' | 'request';
  readonly decision: Decision;
}

export type ExplainResult =
  | {
    readonly ok: true;
    readonly verdict: 'allow' | 'deny';
    /** The first stage that denied, or the last stage. */
    readonly decision: Decision;
    readonly stages: readonly ExplainStage[];
    /** https only: the tunnel is relayed without decrypting, so the request stage never runs. */
    readonly spliced: boolean;
    /** dry_run is on: a denial would be logged and let through. */
    readonly dryRun: boolean;
    /** With `candidate=`: the candidate rule's name and what its matchers allow. */
    readonly candidate?: { readonly name: string; readonly explain: string };
  }
  | { readonly ok: false; readonly error: string };

/** `GET /api/rules`. */
export interface RulesAnswer {
  readonly default: 'deny';
  readonly dryRun: boolean;
  readonly loadedAt: number;
  readonly rules: readonly { readonly name: string; readonly explain: string; /** The rule as configured (hosts, ports, methods, paths, ...). */
    readonly config: Readonly<Record<string, unknown>>; readonly hits: RuleHits }[];
  readonly unmatched: RuleHits;
  readonly removed: readonly { readonly name: string; readonly hits: RuleHits }[];
}

/** `GET /api/ca`. */
export interface CaAnswer {
  readonly subject: string;
  readonly notAfter: string;
  readonly fingerprint256: string;
  readonly certFile: string;
  readonly generated: boolean;
  readonly downloads: Readonly<Record<'pem' | 'der' | 'p12' | 'trust', string>>;
}

export type ClientCounts = ReadonlyArray<{ readonly client: string; readonly count: number }>;

/** Lines not proposed, grouped by why and host. */
export type SetAsideView = Omit<SetAside, 'clients'> & { readonly clients: ClientCounts };

/** `GET /api/proposal` and `POST /api/proposal` (docs/admin-api.md). */
export interface ProposalAnswer {
  readonly source: 'live' | 'upload';
  /** Lines (flows) learned from. */
  readonly lines: number;
  /** Upload lines that are neither json nor Squid (the first few), and how many there were. */
  readonly problems: ReadonlyArray<{ readonly source: string; readonly message: string }>;
  readonly badLines: number;
  /** The proposal as a config file: what the download holds. */
  readonly yaml: string;
  readonly rules: ReadonlyArray<Omit<ProposedRule, 'covers'> & {
    readonly covers: { readonly lines: number; readonly requests: number; readonly tunnels: number; readonly clients: ClientCounts; readonly users: readonly string[] };
  }>;
  readonly held: readonly SetAsideView[];
  readonly excluded: readonly SetAsideView[];
  readonly totals: Proposal['totals'];
  /** What the proposal would change against the rules in force, on the same lines. */
  readonly replay: ReplaySummary;
}
