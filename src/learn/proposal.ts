/** What `learn` proposes: rules with what they cover, and what it would not propose. */

export interface Coverage {
  /** Log lines this rule allows (requests, tunnels, and intercepted tunnels carrying its requests). */
  readonly lines: number;
  readonly requests: number;
  readonly tunnels: number;
  /** Lines per client IP. */
  readonly clients: ReadonlyMap<string, number>;
  readonly users: readonly string[];
}

export interface ProposedRule {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly ports?: readonly number[];
  readonly methods?: readonly string[];
  readonly paths?: readonly string[];
  readonly clients?: readonly string[];
  /** Why the rule looks the way it does, one sentence each (rendered as YAML comments). */
  readonly notes: readonly string[];
  readonly covers: Coverage;
}

/** Lines not proposed, grouped by why (a reason code or a note) and host. */
export interface SetAside {
  readonly why: string;
  readonly host: string;
  /** How many lines, and from which clients (lines per client IP). */
  readonly count: number;
  readonly clients: Coverage['clients'];
  /** A few distinct "METHOD URL" examples. */
  readonly examples: readonly string[];
}

export interface Proposal {
  readonly rules: readonly ProposedRule[];
  /** Not proposed, for review: denials by the policy in force, would-denies beyond an existing restriction, multi-tenant hosts not seen inside. */
  readonly held: readonly SetAside[];
  /** Never proposed: bypass attempts and refusals outside the rules. */
  readonly excluded: readonly SetAside[];
  readonly totals: {
    readonly lines: number;
    readonly covered: number;
    readonly held: number;
    readonly excluded: number;
  };
}
