import { loadConfig } from '../config/load-config.js';
import { formatProblem } from '../config/config-problem.js';
import { compilePolicy } from '../policy/policy-engine.js';
import { buildProxyState } from '../proxy-state.js';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './cli-io.js';

/** `portcullis check -c FILE`: every problem as `file:line key: problem`, exit 1; or the rules, exit 0. */
export const checkCommand = async (file: string, io: CliIo): Promise<number> => {
  const result = await loadConfig(file);
  if (!result.ok) {
    for (const problem of result.problems) io.stderr.write(`${formatProblem(problem)}\n`);
    io.stderr.write(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}; the config was not accepted\n`);
    return EXIT_FAILURE;
  }
  // What the schema cannot see: files the config names (users_file, extra_ca), groups, the parent.
  try {
    buildProxyState(result.config);
  } catch (error) {
    io.stderr.write(`${file}: ${(error as Error).message}\n`);
    io.stderr.write(`${file}: 1 problem; the config was not accepted\n`);
    return EXIT_FAILURE;
  }
  const policy = compilePolicy(result.config.rules);
  io.stdout.write(`${file}: OK, ${result.config.rules.length} rule${result.config.rules.length === 1 ? '' : 's'}${result.config.dry_run ? ' (dry_run: denials are logged, not enforced)' : ''}\n`);
  for (const line of policy.explainRules()) io.stdout.write(`  ${line}\n`);
  io.stdout.write('  everything else: deny (no-rule-matched)\n');
  return EXIT_OK;
};
