/** What a command may touch of the process: passed in so commands stay testable. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
/** check: the config is invalid; explain: the request would be denied; run: could not start. */
export const EXIT_FAILURE = 1;
/** Wrong usage: unknown option, missing argument, unreadable or invalid input to explain. */
export const EXIT_USAGE = 2;
