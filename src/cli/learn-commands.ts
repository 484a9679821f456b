import { InvalidArgumentError, type Command } from 'commander';
import type { CliIo } from './cli-io.js';
import { learnCommand } from './learn-command.js';
import { replayCommand } from './replay-command.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const wildcardMin = (value: string): number => {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0 || count > 1000) throw new InvalidArgumentError('a whole number from 0 (never) to 1000');
  return count;
};

/** `learn` and `replay`: from observed traffic to a reviewed policy (docs/learn.md). */
export const addLearnCommands = (program: Command, io: CliIo, setExit: (code: number) => void): void => {
  program.command('learn')
    .description('propose allow rules from access logs (json or Squid format, .gz too, "-" for stdin): tightest safe hosts, ports, methods and path prefixes, each rule with the requests and clients it covers; bypass attempts are never proposed')
    .argument('<logs...>', 'access-log files')
    .option('-o, --output <file>', 'write the proposal here instead of stdout')
    .option('--include-denied', 'also learn from requests the policy in force denied, and dry-run would-denies outside an existing rule\'s paths, methods, ports or clients (never from bypass attempts)')
    .option('--wildcard-min <n>', 'propose *.domain when at least this many sibling hosts of one registrable domain were seen (0: never)', wildcardMin, 3)
    .option('--multi-tenant <host>', 'treat this host as shared by many tenants: path prefixes only, never a wildcard (repeatable)', collect)
    .option('--with-clients', 'add clients: with the client addresses seen')
    .option('--skip-bad-lines', 'go on past lines that are neither json nor Squid (they are still listed)')
    .addHelpText('after', `
Examples:
  portcullis learn /var/log/portcullis/access.log -o proposed.yaml
  portcullis learn /var/log/squid/access.log /var/log/squid/access.log.1.gz -o proposed.yaml
  portcullis learn access.log --multi-tenant files.internal.example --wildcard-min 0
Then: portcullis replay -c proposed.yaml /var/log/portcullis/access.log
`)
    .action(async (logs: string[], options: { output?: string; includeDenied?: boolean; wildcardMin: number; multiTenant?: string[]; withClients?: boolean; skipBadLines?: boolean }) => {
      setExit(await learnCommand(logs, {
        includeDenied: options.includeDenied === true,
        wildcardMin: options.wildcardMin,
        multiTenant: options.multiTenant ?? [],
        withClients: options.withClients === true,
        skipBadLines: options.skipBadLines === true,
        ...(options.output !== undefined ? { output: options.output } : {}),
      }, io));
    });

  program.command('replay')
    .description('decide every logged request with a candidate config, as the proxy would (no network), and print what changes, grouped by rule and reason (exit 0 nothing changes, 1 something does, 2 bad input)')
    .requiredOption('-c, --config <file>', 'candidate YAML config')
    .argument('<logs...>', 'access-log files (json or Squid format, .gz too, "-" for stdin)')
    .option('--json', 'print the changes as JSON')
    .option('--skip-bad-lines', 'go on past lines that are neither json nor Squid (they are still listed)')
    .addHelpText('after', `
Examples:
  portcullis replay -c proposed.yaml /var/log/portcullis/access.log
  portcullis replay -c portcullis.yaml access.log.1 access.log || echo "this change allows or denies something new"
`)
    .action(async (logs: string[], options: { config: string; json?: boolean; skipBadLines?: boolean }) => {
      setExit(await replayCommand(logs, { config: options.config, json: options.json === true, skipBadLines: options.skipBadLines === true }, io));
    });
};
