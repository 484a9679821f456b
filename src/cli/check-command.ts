import { loadConfig } from '../config/load-config.js';
import { formatProblem } from '../config/config-problem.js';
import { lintRules } from '../learn/lint-policy.js';
import { createTenancy } from '../learn/tenancy.js';
import { compilePolicy } from '../policy/policy-engine.js';
import { buildProxyState, expandGroups } from '../proxy-state.js';
import { loadAddons } from '../addons/load-addons.js';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './cli-io.js';
import { formatLintFindings } from './lint-output.js';
import { readLogInput } from './log-input.js';

export interface CheckOptions {
  /** Also flag rules broader than they need to be. */
  readonly lint?: boolean;
  /** With lint: access logs to find rules no request needed. */
  readonly logs?: readonly string[];
  /** With lint: hosts to treat as multi-tenant beyond the Public Suffix List and the known services. */
  readonly multiTenant?: readonly string[];
  readonly skipBadLines?: boolean;
}

/**
 * `portcullis check -c FILE [--lint [LOG...]]`: every problem as `file:line key: problem`, exit 1;
 * or the rules, exit 0. With --lint, findings are printed the same way and exit 1 too.
 */
export const checkCommand = async (file: string, io: CliIo, options: CheckOptions = {}): Promise<number> => {
  const result = await loadConfig(file);
  if (!result.ok) {
    for (const problem of result.problems) io.stderr.write(`${formatProblem(problem)}\n`);
    io.stderr.write(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}; the config was not accepted\n`);
    return EXIT_FAILURE;
  }
  // What the schema cannot see: files the config names (users_file, extra_ca), groups, the parent.
  try {
    buildProxyState(result.config);
    // Addons are loaded as the proxy would load them: a missing file, a syntax error or an unknown hook is a problem.
    if (result.config.addons.length > 0) await loadAddons(result.config.addons, 0);
  } catch (error) {
    io.stderr.write(`${file}: ${(error as Error).message}\n`);
    io.stderr.write(`${file}: 1 problem; the config was not accepted\n`);
    return EXIT_FAILURE;
  }
  const policy = compilePolicy(result.config.rules);
  io.stdout.write(`${file}: OK, ${result.config.rules.length} rule${result.config.rules.length === 1 ? '' : 's'}${result.config.dry_run ? ' (dry_run: denials are logged, not enforced)' : ''}\n`);
  for (const line of policy.explainRules()) io.stdout.write(`  ${line}\n`);
  io.stdout.write('  everything else: deny (no-rule-matched)\n');
  if (options.lint !== true) return EXIT_OK;
  const logs = options.logs ?? [];
  let requests;
  if (logs.length > 0) {
    const input = await readLogInput(logs, io, { skipBadLines: options.skipBadLines === true });
    if (!input.ok) return input.exitCode;
    requests = input.requests;
  }
  const findings = lintRules(expandGroups(result.config), createTenancy(options.multiTenant ?? []), requests);
  for (const line of await formatLintFindings(file, findings)) io.stdout.write(`${line}\n`);
  const read = requests === undefined ? ' (give access logs to also find rules no request needed)' : ` against ${requests.length.toLocaleString('en-US')} log lines`;
  io.stdout.write(findings.length === 0
    ? `lint: nothing broader than it needs to be${read}\n`
    : `lint: ${findings.length} finding${findings.length === 1 ? '' : 's'}${read}\n`);
  return findings.length === 0 ? EXIT_OK : EXIT_FAILURE;
};
