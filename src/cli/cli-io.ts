/** What a command may touch of the process: passed in so commands stay testable. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** Read when a command is given "-" as a file (learn, replay); process.stdin when absent. */
  readonly stdin?: NodeJS.ReadableStream;
  readonly cwd: string;
}

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
/** check: the config is invalid (or, with --lint, has findings); explain: the request would be denied; replay: something changes; run: could not start. */
export const EXIT_FAILURE = 1;
/** Wrong usage: unknown option, missing argument, unreadable or invalid input (explain, learn, replay). */
export const EXIT_USAGE = 2;
