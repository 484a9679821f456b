import os from 'node:os';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ListenAddressSchema } from '../config/schema.js';
import { CA_EXPORT_FORMATS, caExportCommand, caTrustCommand, type CaExportFormat } from './ca-command.js';
import { checkCommand } from './check-command.js';
import { EXIT_USAGE, type CliIo } from './cli-io.js';
import { explainCommand } from './explain-command.js';
import { addLearnCommands } from './learn-commands.js';
import { runCommand, type SignalSource } from './run-command.js';
import { transparentRulesCommand, type TransparentRulesOptions } from './transparent-command.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const workerCount = (value: string): number => {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new InvalidArgumentError('a whole number from 1 to 64');
  return count;
};

/** One worker per CPU this process may run on (its affinity mask: `taskset -c 0` means 1). */
const defaultWorkers = (): number => Math.max(1, Math.min(64, os.availableParallelism()));

const adminAddress = (value: string): string => {
  if (!ListenAddressSchema.safeParse(value).success) throw new InvalidArgumentError('must be host:port, e.g. 127.0.0.1:9090 or [::1]:9090');
  return value;
};
/** Like collect, for options whose default must not show in --help. */
const collectFresh = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const processSignals: SignalSource = {
  on: (signal, handler) => { process.on(signal, handler); },
  off: (signal, handler) => { process.off(signal, handler); },
};

/** Builds the CLI; returns the exit code instead of exiting (only bin/ sets it). */
export const main = async (argv: readonly string[], io: CliIo, signals: SignalSource = processSignals): Promise<number> => {
  let exitCode = 0;
  const program = new Command('portcullis')
    .description('Portcullis: a deny-by-default egress gateway (forward HTTP/HTTPS proxy with a domain and URL policy)')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
Examples:
  portcullis run                                  # embedded default config on 127.0.0.1:3128
  portcullis run -c portcullis.yaml --listen 0.0.0.0:3128
  portcullis check -c portcullis.yaml
  portcullis check -c portcullis.yaml --lint /var/log/portcullis/access.log
  portcullis learn /var/log/portcullis/access.log -o proposed.yaml
  portcullis replay -c proposed.yaml /var/log/portcullis/access.log
  portcullis explain -c portcullis.yaml GET https://www.googleapis.com/storage/v1/b/allowed-bkt/o
  portcullis ca trust -c portcullis.yaml
  portcullis transparent rules -c portcullis.yaml --interface eth1
`);

  program.command('run')
    .description('start the proxy and log every decision until SIGINT/SIGTERM (which drain in-flight requests); SIGHUP or saving the config file reloads it, SIGUSR1 reopens the log file')
    .option('-c, --config <file>', 'YAML config file (default: the embedded example config)')
    .option('--listen <addr>', 'explicit-proxy listen address host:port, instead of the config\'s listeners (repeatable)', collect, [])
    .option('--admin <addr>', 'dashboard, admin API and /metrics on host:port (instead of admin.address; off loopback it needs a token)', adminAddress)
    .option('--workers <n>', `worker processes sharing the listeners; a primary keeps the CA, dashboard and metrics (default: the CPUs this process may use, ${defaultWorkers()} here)`, workerCount)
    .addHelpText('after', `
Examples:
  portcullis run
  portcullis run -c /etc/portcullis/portcullis.yaml --workers 1   # one process (default: one per CPU)
  portcullis run -c portcullis.yaml --listen 127.0.0.1:3128 --listen [::1]:3128
  portcullis run -c portcullis.yaml --admin 127.0.0.1:9090     # then open http://127.0.0.1:9090/
  curl -x http://127.0.0.1:3128 http://example.com/
`)
    .action(async (options: { config?: string; listen: string[]; admin?: string; workers?: number }) => {
      exitCode = await runCommand({
        listen: options.listen,
        workers: options.workers ?? defaultWorkers(),
        ...(options.config ? { config: options.config } : {}),
        ...(options.admin ? { admin: options.admin } : {}),
      }, io, signals);
    });

  program.command('check')
    .description('validate a config file: prints "file:line key: problem" and exits 1, or lists the rules and exits 0; with --lint, also flags rules broader than they need to be (exit 1 when it finds any)')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .argument('[logs...]', 'with --lint: access logs (json or Squid), to also find rules no request matched and ports none used')
    .option('--lint', 'flag wildcards over multi-tenant hosts, multi-tenant hosts allowed whole (inspect: false, no paths), duplicate and covered rules; with logs, unused rules and ports')
    .option('--multi-tenant <host>', 'with --lint: treat this host as shared by many tenants (repeatable)', collectFresh)
    .option('--skip-bad-lines', 'with --lint: go on past log lines that are neither json nor Squid')
    .addHelpText('after', `
Examples:
  portcullis check -c portcullis.yaml && echo valid
  portcullis check -c portcullis.yaml --lint
  portcullis check -c portcullis.yaml --lint /var/log/portcullis/access.log
`)
    .action(async (logs: string[], options: { config: string; lint?: boolean; multiTenant?: string[]; skipBadLines?: boolean }) => {
      if (logs.length > 0 && options.lint !== true) {
        io.stderr.write('check: log files are read only with --lint\n');
        exitCode = EXIT_USAGE;
        return;
      }
      exitCode = await checkCommand(options.config, io, {
        lint: options.lint === true, logs, multiTenant: options.multiTenant ?? [], skipBadLines: options.skipBadLines === true,
      });
    });

  program.command('explain')
    .description('show which rule allows or denies a request or a CONNECT tunnel, without touching the network (exit 0 allowed, 1 denied, 2 bad input)')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .argument('<method>', 'HTTP method, e.g. GET, or CONNECT for a tunnel')
    .argument('<url>', 'absolute URL, e.g. https://api.example.com/v1/items; after CONNECT, host:port')
    .addOption(new Option('--client <ip>', 'client source address, for rules with clients:').default('127.0.0.1'))
    .option('--sni <name>', 'TLS SNI the client would send (https only)')
    .option('--user <name>', 'authenticated proxy user, for rules with users:')
    .addHelpText('after', `
Examples:
  portcullis explain -c portcullis.yaml GET http://deb.debian.org/debian/dists/bookworm/Release
  portcullis explain -c portcullis.yaml POST https://www.googleapis.com/storage/v1/b/allowed-bkt/o --client 10.0.0.5
  portcullis explain -c portcullis.yaml GET https://reports.example.com/q1 --user alice
  portcullis explain -c portcullis.yaml CONNECT www.googleapis.com:443
`)
    .action(async (method: string, url: string, options: { config: string; client: string; sni?: string; user?: string }) => {
      exitCode = await explainCommand(method, url, {
        config: options.config, client: options.client,
        ...(options.sni !== undefined ? { sni: options.sni } : {}),
        ...(options.user !== undefined ? { user: options.user } : {}),
      }, io);
    });

  addLearnCommands(program, io, (code) => { exitCode = code; });

  const ca = program.command('ca')
    .description('the CA Portcullis signs intercepted hosts\' certificates with (created in state_dir on first use)');

  ca.command('export')
    .description('write the CA certificate to stdout (creating the CA in state_dir if there is none yet)')
    .option('-c, --config <file>', 'YAML config file (default: the embedded example config)')
    .addOption(new Option('--format <format>', 'pem, der, or p12 (PKCS#12 with the certificate only, empty password)').choices(CA_EXPORT_FORMATS).default('pem'))
    .addHelpText('after', `
Examples:
  portcullis ca export -c portcullis.yaml > portcullis-ca.pem
  portcullis ca export -c portcullis.yaml --format der > portcullis-ca.cer
  portcullis ca export -c portcullis.yaml --format p12 > portcullis-ca.p12
`)
    .action(async (options: { config?: string; format: CaExportFormat }) => {
      exitCode = await caExportCommand(options, io);
    });

  ca.command('trust')
    .description('print how to trust the CA on Linux, macOS, Windows, Java, Python, Node, curl, AWS CLI and gcloud, with its SHA-256 fingerprint')
    .option('-c, --config <file>', 'YAML config file (default: the embedded example config)')
    .addHelpText('after', `
Examples:
  portcullis ca trust -c portcullis.yaml
`)
    .action(async (options: { config?: string }) => {
      exitCode = await caTrustCommand(options, io);
    });

  const transparent = program.command('transparent')
    .description('transparent mode: clients with no proxy settings, redirected by the firewall (docs/transparent.md)');

  transparent.command('rules')
    .description('print the iptables/ip6tables and nftables commands that redirect ports 80/443 into the transparent listeners and port 53 into the dns listener, with the loop guard and the QUIC and DNS-over-TLS (853) blocks')
    .option('-c, --config <file>', 'YAML config file with transparent-http / transparent-tls / dns listeners')
    .option('--user <name>', 'user Portcullis runs as; its own connections are not redirected (default: portcullis)')
    .option('--group <name>', 'match the group Portcullis runs as instead of the user')
    .option('--interface <iface>', 'gateway: the interface facing the private network, e.g. eth1 (iptables wildcard eth+)')
    .addOption(new Option('--source <cidr>', 'gateway: private source range to redirect, e.g. 10.0.0.0/16 (repeatable)').argParser(collectFresh))
    .addOption(new Option('--target <where>', 'gateway host, same host, or both').choices(['gateway', 'same-host', 'all']).default('all'))
    .addOption(new Option('--format <tool>', 'which commands to print').choices(['iptables', 'nftables', 'all']).default('all'))
    .addOption(new Option('--family <n>', 'IP version').choices(['4', '6', 'all']).default('all'))
    .addOption(new Option('--http-port <ports>', 'destination ports sent to the transparent-http listener (default 80; repeatable or comma-separated)').argParser(collectFresh))
    .addOption(new Option('--tls-port <ports>', 'destination ports sent to the transparent-tls listener (default 443; repeatable or comma-separated)').argParser(collectFresh))
    .addHelpText('after', `
The config needs listeners such as:
  listen:
    - { address: "[::]:3129", mode: transparent-http }
    - { address: "[::]:3130", mode: transparent-tls }
    - { address: "[::]:5353", mode: dns }              # UDP and TCP 53 are redirected here (docs/side-channels.md)

Examples:
  portcullis transparent rules -c portcullis.yaml --user portcullis --interface eth1
  portcullis transparent rules -c portcullis.yaml --target gateway --source 10.0.1.0/24 --format nftables
  portcullis transparent rules -c portcullis.yaml --target same-host --user portcullis --format iptables | sudo sh
`)
    .action(async (options: TransparentRulesOptions) => {
      exitCode = await transparentRulesCommand(options, io);
    });

  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    io.stderr.write(`portcullis: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
  return exitCode;
};
