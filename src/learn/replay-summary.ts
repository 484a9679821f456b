/** `replay --json` and the dashboard's Propose view. Types only: the dashboard imports them. */

export interface ReplayGroupSummary {
  /** What decided before, e.g. "allowed by rule apt". */
  readonly before: string;
  /** What decides now, e.g. "denied: no-rule-matched (default deny)". */
  readonly now: string;
  readonly count: number;
  readonly clients: ReadonlyArray<{ readonly client: string; readonly count: number }>;
  /** "METHOD URL" with how often it was logged, most frequent first. */
  readonly examples: ReadonlyArray<{ readonly text: string; readonly count: number }>;
}

export interface ReplaySummary {
  readonly total: number;
  readonly changed: number;
  readonly newlyDenied: ReplayGroupSummary[];
  readonly newlyAllowed: ReplayGroupSummary[];
  readonly nowIntercepted: ReplayGroupSummary[];
  readonly nowSpliced: ReplayGroupSummary[];
  readonly unchanged: { readonly allowed: number; readonly denied: number };
  readonly notJudged: Record<string, number>;
}
