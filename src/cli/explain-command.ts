import { loadConfig } from '../config/load-config.js';
import { formatProblem } from '../config/config-problem.js';
import { parseAbsoluteTarget } from '../flow/destination.js';
import { parseHost } from '../flow/host.js';
import type { Decision } from '../policy/decision.js';
import { compilePolicy } from '../policy/policy-engine.js';
import { expandGroups } from '../proxy-state.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './cli-io.js';

export interface ExplainOptions {
  readonly config: string;
  readonly client: string;
  readonly sni?: string;
  /** The authenticated proxy user, for rules with users:. */
  readonly user?: string;
}

const describe = (decision: Decision): string =>
  decision.verdict === 'allow'
    ? `ALLOW by rule "${decision.rule}"${decision.intercept ? ' (intercepted: requests inside are checked one by one)' : ''}`
    : `DENY ${decision.reason}${decision.rule ? ` (rule "${decision.rule}")` : ' (default: deny)'}${decision.detail ? `: ${decision.detail}` : ''}${
      decision.wouldAllow !== undefined ? `; would allow: rule "${decision.wouldAllow}" (mode: report, not enforced)` : ''}`;

/**
 * `portcullis explain -c FILE METHOD URL`: the decision for one request, without any network.
 * For https URLs it shows both stages: the CONNECT (tunnel) decision and, when the host is
 * intercepted, the request decision inside the tunnel. Exit 0 allowed, 1 denied, 2 bad input.
 */
export const explainCommand = async (method: string, url: string, options: ExplainOptions, io: CliIo): Promise<number> => {
  const loaded = await loadConfig(options.config);
  if (!loaded.ok) {
    for (const problem of loaded.problems) io.stderr.write(`${formatProblem(problem)}\n`);
    return EXIT_USAGE;
  }
  const target = parseAbsoluteTarget(url);
  if (!target.ok) {
    io.stdout.write(`DENY ${target.reason}: ${target.error}\n`);
    return EXIT_FAILURE;
  }
  const client = parseHost(options.client);
  if (!client.ok || client.value.kind !== 'ip') {
    io.stderr.write(`--client must be an IP address, got "${options.client}"\n`);
    return EXIT_USAGE;
  }
  let policy;
  try {
    policy = compilePolicy(expandGroups(loaded.config));
  } catch (error) {
    io.stderr.write(`${options.config}: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  const { destination, scheme, pathAndQuery } = target.value;
  const facts = {
    destination, clientIp: client.value.host, transport: scheme === 'https' ? 'tls' as const : 'http' as const,
    ...(options.user !== undefined ? { user: options.user } : {}),
  };
  if (scheme === 'https') {
    if (options.sni !== undefined) {
      const sni = parseHost(options.sni);
      if (!sni.ok || sni.value.host !== destination.host.host) {
        io.stdout.write(`tunnel:  DENY sni-mismatch: SNI "${options.sni}" does not name ${destination.host.host}\n`);
        return EXIT_FAILURE;
      }
    }
    const tunnel = policy.decideConnection(facts);
    io.stdout.write(`tunnel:  CONNECT ${destination.host.host}:${destination.port} -> ${describe(tunnel)}\n`);
    if (tunnel.verdict === 'deny') return EXIT_FAILURE;
    if (!tunnel.intercept) {
      io.stdout.write(`request: not decrypted (spliced); every request through this tunnel passes\n`);
      return EXIT_OK;
    }
  }
  const final = policy.decideRequest({ ...facts, method, pathAndQuery });
  io.stdout.write(`request: ${method} ${url} -> ${describe(final)}\n`);
  if (final.verdict === 'deny' && loaded.config.dry_run) io.stdout.write('note: dry_run is on, so the proxy would log this denial and let it pass\n');
  return final.verdict === 'allow' ? EXIT_OK : EXIT_FAILURE;
};
