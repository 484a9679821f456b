import { formatProblem, loadConfig } from '../config/load-config.js';
import { compileConfigPolicy } from './compile-config-policy.js';
import { formatReplay, summarizeReplay } from '../learn/format-replay.js';
import { replayRequests } from '../learn/replay.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './cli-io.js';
import { readLogInput } from './log-input.js';

export interface ReplayCommandOptions {
  readonly config: string;
  readonly json?: boolean;
  readonly skipBadLines?: boolean;
}

/**
 * `portcullis replay -c CANDIDATE LOG...`: decides every logged request with the candidate
 * policy (the compiled policy the proxy uses; no network) and prints what changes.
 * Exit 0 nothing changes, 1 something does, 2 bad input.
 */
export const replayCommand = async (logs: readonly string[], options: ReplayCommandOptions, io: CliIo): Promise<number> => {
  const loaded = await loadConfig(options.config);
  if (!loaded.ok) {
    for (const problem of loaded.problems) io.stderr.write(`${formatProblem(problem)}\n`);
    io.stderr.write(`${options.config}: the candidate config was not accepted\n`);
    return EXIT_USAGE;
  }
  const policy = compileConfigPolicy(loaded.config, options.config, io);
  if (policy === undefined) return EXIT_USAGE;
  const input = await readLogInput(logs, io, { skipBadLines: options.skipBadLines === true });
  if (!input.ok) return input.exitCode;
  if (loaded.config.dry_run) io.stderr.write(`note: ${options.config} has dry_run: true; replay judges its rules as if they were enforced\n`);
  const report = replayRequests(policy, input.requests);
  if (options.json === true) io.stdout.write(`${JSON.stringify(summarizeReplay(report), null, 2)}\n`);
  else io.stdout.write(formatReplay(report, options.config, loaded.config.rules.length));
  return report.changed > 0 ? EXIT_FAILURE : EXIT_OK;
};
