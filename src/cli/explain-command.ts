import { loadConfig } from '../config/load-config.js';
import { compileConfigPolicy } from './compile-config-policy.js';
import { formatProblem } from '../config/config-problem.js';
import { formatAuthority, parseAbsoluteTarget, parseAuthority, type Destination } from '../flow/destination.js';
import { parseHost } from '../flow/host.js';
import type { Decision } from '../policy/decision.js';
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

const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

type Target =
  | { ok: true; connect: true; destination: Destination }
  | { ok: true; connect: false; destination: Destination; scheme: 'http' | 'https'; pathAndQuery: string }
  | { ok: false; denied: boolean; message: string };

/**
 * What `explain` is asked about: `CONNECT host:port`, or METHOD and an absolute URL. Input that
 * is no request at all is bad input (exit 2); credentials in it are a decision (the proxy
 * denies them with userinfo-in-url), so they are a DENY (exit 1).
 */
const parseTarget = (method: string, target: string): Target => {
  if (!METHOD_TOKEN.test(method)) return { ok: false, denied: false, message: `"${method}" is not an HTTP method` };
  if (method.toUpperCase() === 'CONNECT') {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
      return { ok: false, denied: false, message: `CONNECT takes host:port, not a URL: e.g. portcullis explain -c FILE CONNECT ${target.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/[/?#].*$/, '')}:443` };
    }
    const parsed = parseAuthority(target);
    if (!parsed.ok) return { ok: false, denied: parsed.reason === 'userinfo-in-url', message: `${parsed.reason}: ${parsed.error}` };
    return { ok: true, connect: true, destination: parsed.value };
  }
  const parsed = parseAbsoluteTarget(target);
  if (!parsed.ok) return { ok: false, denied: parsed.reason === 'userinfo-in-url', message: `${parsed.reason}: ${parsed.error}` };
  return { ok: true, connect: false, ...parsed.value };
};

/**
 * `portcullis explain -c FILE METHOD URL` or `explain -c FILE CONNECT host:port`: the decision
 * for one request or tunnel, without any network. For https URLs it shows both stages: the
 * CONNECT (tunnel) decision and, when the host is intercepted, the request decision inside the
 * tunnel. Exit 0 allowed, 1 denied, 2 bad input.
 */
export const explainCommand = async (method: string, url: string, options: ExplainOptions, io: CliIo): Promise<number> => {
  const loaded = await loadConfig(options.config);
  if (!loaded.ok) {
    for (const problem of loaded.problems) io.stderr.write(`${formatProblem(problem)}\n`);
    return EXIT_USAGE;
  }
  const target = parseTarget(method, url);
  if (!target.ok) {
    if (target.denied) {
      io.stdout.write(`DENY ${target.message}\n`);
      return EXIT_FAILURE;
    }
    io.stderr.write(`explain: ${target.message}\n`);
    return EXIT_USAGE;
  }
  const client = parseHost(options.client);
  if (!client.ok || client.value.kind !== 'ip') {
    io.stderr.write(`--client must be an IP address, got "${options.client}"\n`);
    return EXIT_USAGE;
  }
  const policy = compileConfigPolicy(loaded.config, options.config, io);
  if (policy === undefined) return EXIT_USAGE;
  const { destination } = target;
  const tls = target.connect || target.scheme === 'https';
  const facts = {
    destination, clientIp: client.value.host, transport: tls ? 'tls' as const : 'http' as const,
    ...(options.user !== undefined ? { user: options.user } : {}),
  };
  if (tls) {
    if (options.sni !== undefined) {
      const sni = parseHost(options.sni);
      if (!sni.ok || sni.value.host !== destination.host.host) {
        io.stdout.write(`tunnel:  DENY sni-mismatch: SNI "${options.sni}" does not name ${destination.host.host}\n`);
        return EXIT_FAILURE;
      }
    }
    const tunnel = policy.decideConnection(facts);
    io.stdout.write(`tunnel:  CONNECT ${formatAuthority(destination)} -> ${describe(tunnel)}\n`);
    if (tunnel.verdict === 'deny') {
      if (loaded.config.dry_run) io.stdout.write('note: dry_run is on, so the proxy would log this denial and let it pass\n');
      return EXIT_FAILURE;
    }
    if (!tunnel.intercept) {
      io.stdout.write(`request: not decrypted (spliced); every request through this tunnel passes\n`);
      return EXIT_OK;
    }
    if (target.connect) {
      io.stdout.write(`request: each request inside is decided on its own; ask about one with: portcullis explain -c ${options.config} GET https://${formatAuthority(destination).replace(/:443$/, '')}/PATH\n`);
      return EXIT_OK;
    }
  }
  if (target.connect) return EXIT_OK; // unreachable: a CONNECT is always tls
  const final = policy.decideRequest({ ...facts, method, pathAndQuery: target.pathAndQuery });
  io.stdout.write(`request: ${method} ${url} -> ${describe(final)}\n`);
  if (final.verdict === 'deny' && loaded.config.dry_run) io.stdout.write('note: dry_run is on, so the proxy would log this denial and let it pass\n');
  return final.verdict === 'allow' ? EXIT_OK : EXIT_FAILURE;
};
