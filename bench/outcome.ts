/** The result of one measurement run, as every runner reports it. */
export interface RunOutcome {
  /** Metric key -> value (NaN when not measured). */
  readonly values: Record<string, number>;
  /** Non-200 responses plus transport errors (connect/read/write/timeouts); > 0 marks the run FAILED. */
  readonly errors: number;
  /** One line on what happened (counts, error kinds), for the report's run log. */
  readonly detail: string;
  /** The exact command that ran (with real ports). */
  readonly command: string;
}
