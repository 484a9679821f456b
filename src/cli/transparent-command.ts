import { formatProblem } from '../config/config-problem.js';
import { loadConfig } from '../config/load-config.js';
import { loadDefaultConfig } from '../config/default-config.js';
import type { ProxyConfig } from '../config/schema.js';
import { DEFAULT_RULE_OPTIONS, firewallRules, type RulesFamily, type RulesFormat, type RulesTarget } from '../net/firewall-rules.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './cli-io.js';

export interface TransparentRulesOptions {
  readonly config?: string;
  readonly user?: string;
  readonly group?: string;
  readonly interface?: string;
  readonly source?: readonly string[];
  readonly target: RulesTarget;
  readonly format: RulesFormat;
  readonly family: RulesFamily;
  readonly httpPort?: readonly string[];
  readonly tlsPort?: readonly string[];
}

const ports = (values: readonly string[], fallback: readonly number[]): number[] | undefined => {
  if (values.length === 0) return [...fallback];
  const out = values.flatMap((value) => value.split(',')).map((value) => (/^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN));
  return out.every((port) => port >= 1 && port <= 65535) ? out : undefined;
};

/**
 * `portcullis transparent rules [-c FILE]`: prints the iptables/ip6tables and nft commands that
 * redirect traffic into the config's transparent and dns listeners, for a gateway host and for the
 * same host, with the owner-match loop guard and the QUIC (UDP 443) block.
 */
export const transparentRulesCommand = async (options: TransparentRulesOptions, io: CliIo): Promise<number> => {
  let config: ProxyConfig;
  if (options.config === undefined) {
    config = loadDefaultConfig(io.cwd);
  } else {
    const result = await loadConfig(options.config);
    if (!result.ok) {
      for (const problem of result.problems) io.stderr.write(`${formatProblem(problem)}\n`);
      io.stderr.write(`portcullis: ${options.config} has problems; no rules printed\n`);
      return EXIT_FAILURE;
    }
    config = result.config;
  }
  if (options.user !== undefined && options.group !== undefined) {
    io.stderr.write('portcullis: give --user or --group, not both\n');
    return EXIT_USAGE;
  }
  const httpPorts = ports(options.httpPort ?? [], DEFAULT_RULE_OPTIONS.httpPorts);
  const tlsPorts = ports(options.tlsPort ?? [], DEFAULT_RULE_OPTIONS.tlsPorts);
  if (httpPorts === undefined || tlsPorts === undefined) {
    io.stderr.write('portcullis: --http-port and --tls-port take port numbers (1-65535), e.g. --tls-port 443,8443\n');
    return EXIT_USAGE;
  }
  const result = firewallRules(config.listen, {
    owner: options.group !== undefined ? { kind: 'group', name: options.group } : { kind: 'user', name: options.user ?? 'portcullis' },
    ...(options.interface !== undefined ? { interface: options.interface } : {}),
    sources: options.source ?? [],
    target: options.target,
    format: options.format,
    family: options.family,
    httpPorts,
    tlsPorts,
  });
  if (!result.ok) {
    io.stderr.write(`portcullis: ${result.error}\n`);
    return result.error.startsWith('no transparent or dns listener') ? EXIT_FAILURE : EXIT_USAGE;
  }
  for (const warning of result.warnings) io.stderr.write(`portcullis: warning: ${warning}\n`);
  io.stdout.write(result.text);
  return EXIT_OK;
};
