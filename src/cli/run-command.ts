import pino from 'pino';
import { loadConfig } from '../config/load-config.js';
import { formatProblem } from '../config/config-problem.js';
import { loadDefaultConfig } from '../config/default-config.js';
import type { ProxyConfig } from '../config/schema.js';
import { deepFreeze } from '../config/deep-freeze.js';
import { createAccessLog } from '../logging/access-log.js';
import { createProxy } from '../proxy.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { createWorkerPool, type WorkerPool } from './worker-pool.js';
import { DEFAULT_FLOW_BUFFER, type Admin, type ReloadResult } from '../admin/admin.js';
import { createConsoleSummary } from '../admin/console-summary.js';
import { startAdmin } from '../admin/start-admin.js';
import { EXIT_FAILURE, EXIT_OK, type CliIo } from './cli-io.js';
import { watchConfigFile, type ConfigFileWatcher } from '../config/watch-config-file.js';
import { describeListeners } from './listener-banner.js';

export interface RunOptions {
  readonly config?: string;
  readonly listen: readonly string[];
  /** `--admin ADDR`: the admin listener (dashboard, API, metrics) on this address. */
  readonly admin?: string;
  /** `--workers N`: processes sharing the listeners (1: everything in this process). */
  readonly workers?: number;
}

/** Signals the run command reacts to; injected so tests can drive them. */
export interface SignalSource {
  on(signal: NodeJS.Signals, handler: () => void): void;
  off(signal: NodeJS.Signals, handler: () => void): void;
}

const withListenOverrides = (config: ProxyConfig, listen: readonly string[]): ProxyConfig =>
  listen.length === 0
    ? config
    : deepFreeze({ ...config, listen: listen.map((address) => ({ address, mode: 'explicit' as const })) });

const loadFor = async (options: RunOptions, io: CliIo): Promise<{ ok: true; config: ProxyConfig } | { ok: false; lines: string[] }> => {
  const result = options.config ? await loadConfig(options.config) : { ok: true as const, config: loadDefaultConfig(io.cwd) };
  if (!result.ok) return { ok: false, lines: result.problems.map(formatProblem) };
  return { ok: true, config: withListenOverrides(result.config, options.listen) };
};

/**
 * `portcullis run`: start the listeners, log every flow, and keep going until SIGINT/SIGTERM.
 * SIGHUP, the admin API and saving the config file reload it (a broken file is refused and the
 * old policy stays); SIGUSR1 reopens the access-log file after rotation.
 */
export const runCommand = async (options: RunOptions, io: CliIo, signals: SignalSource): Promise<number> => {
  // On a terminal, a live summary line sits below the log (mitmdump style); log lines go around it.
  const summary = io.stdout.isTTY === true && io.env.TERM !== 'dumb'
    ? createConsoleSummary({ out: io.stdout, color: io.env.NO_COLOR === undefined })
    : undefined;
  const logger = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    summary ? summary.wrap(io.stderr) : pino.destination({ fd: 2, sync: false }));
  const loaded = await loadFor(options, io);
  if (!loaded.ok) {
    for (const line of loaded.lines) io.stderr.write(`${line}\n`);
    io.stderr.write('portcullis: not started, the config has problems\n');
    return EXIT_FAILURE;
  }
  const config = loaded.config;
  const accessLog = createAccessLog(
    { format: config.log.format, file: config.log.file, color: config.log.file === '-' && io.stdout.isTTY === true },
    { stdout: summary ? summary.wrap(io.stdout) : io.stdout, onError: (error: Error) => logger.error({ err: error }, 'access log write failed') },
  );
  let admin: Admin | undefined;
  const backlog: FlowRecord[] = [];
  let adminSettled = false;
  let proxy: ReturnType<typeof createProxy>;
  let pool: WorkerPool | undefined;
  let bound: string[];
  try {
    const workers = options.workers ?? 1;
    // With workers, a log file is appended to by each worker; stdout stays with this process.
    const workersLog = workers > 1 && config.log.file !== '-';
    const adminWanted = options.admin !== undefined || config.admin?.enabled === true;
    // Flows that finish before the admin listener is up (workers start serving first) are kept,
    // bounded by the dashboard's own buffer, and handed to it once it exists.
    const backlogLimit = adminWanted ? config.admin?.flows ?? DEFAULT_FLOW_BUFFER : 0;
    const onFlow = (record: FlowRecord): void => {
      if (!workersLog) accessLog.write(record);
      if (admin) admin.record(record);
      else if (!adminSettled && backlog.length < backlogLimit) backlog.push(record);
    };
    if (workers > 1) {
      pool = createWorkerPool(config, workers, { logger, onFlow }, { workersLog, sendFlows: !workersLog || adminWanted });
      proxy = pool;
    } else {
      proxy = createProxy(config, { logger, onFlow });
    }
    bound = await proxy.start();
  } catch (error) {
    io.stderr.write(`portcullis: ${(error as Error).message}\n`);
    await accessLog.close();
    return EXIT_FAILURE;
  }
  let watcher: ConfigFileWatcher | undefined;
  /** Re-reads the config file: the SIGHUP and admin API path. A broken file changes nothing. */
  const reloadConfig = async (): Promise<ReloadResult> => {
    if (!options.config) return { ok: false, unavailable: true, problems: ['running on the embedded default config, nothing to reload'] };
    // Noted before reading, so an edit landing after the read still triggers the watcher.
    watcher?.markCurrent();
    const next = await loadFor(options, io);
    if (!next.ok) {
      logger.error({ problems: next.lines }, 'reload refused: the new config has problems; the old policy stays in force');
      for (const line of next.lines) io.stderr.write(`${line}\n`);
      return { ok: false, problems: next.lines };
    }
    try {
      await proxy.reload(next.config);
    } catch (error) {
      logger.error({ err: error }, 'reload refused; the old policy stays in force');
      io.stderr.write(`portcullis: reload refused: ${(error as Error).message}\n`);
      return { ok: false, problems: [(error as Error).message] };
    }
    logger.info({ rules: next.config.rules.length }, 'config reloaded');
    return { ok: true, rules: next.config.rules.length };
  };
  let adminLines: readonly string[] = [];
  try {
    const started = await startAdmin(proxy, {
      config, logger, optional: options.admin === undefined && options.config === undefined,
      ...(options.admin !== undefined ? { addressOverride: options.admin } : {}),
      ...(options.config ? { reload: reloadConfig } : {}),
    });
    admin = started.admin;
    adminLines = started.lines;
    adminSettled = true;
    for (const record of backlog.splice(0)) admin?.record(record);
  } catch (error) {
    io.stderr.write(`portcullis: ${(error as Error).message}\n`);
    await proxy.close();
    await accessLog.close();
    return EXIT_FAILURE;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    let logClosed = false;
    const reload = (): void => {
      if (stopping) return;
      if (!options.config) {
        logger.warn({}, 'SIGHUP: running on the embedded default config, nothing to reload');
        return;
      }
      void (admin ? admin.reload() : reloadConfig());
    };
    const reopen = (): void => {
      if (logClosed) return;
      void accessLog.reopen();
      pool?.reopenLogs();
    };
    // Saving the config file reloads it, like SIGHUP (an invalid file is refused the same way).
    watcher = options.config ? watchConfigFile(options.config, () => {
      logger.info({ config: options.config }, 'config file changed; reloading');
      reload();
    }) : undefined;
    // A second SIGINT/SIGTERM during the delay or the grace period is ignored, not fatal.
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      admin?.setReady(false);
      watcher?.close();
      const { shutdown_delay: delayMs, shutdown_grace: graceMs } = proxy.state().config.timeouts;
      if (delayMs > 0) logger.info({ delay_ms: delayMs }, 'stopping: not ready; still accepting until the delay has passed');
      void new Promise((wait) => setTimeout(wait, delayMs))
        .then(() => proxy.close({ graceMs }))
        .then(() => admin?.close())
        .then(() => summary?.stop())
        .then(() => accessLog.close())
        .then(() => {
          // The handlers stay installed, doing nothing: a signal arriving between here and the
          // process's exit would otherwise kill it and turn the exit status 0 into a signal.
          logClosed = true;
          resolve(EXIT_OK);
        });
    };
    signals.on('SIGINT', stop);
    signals.on('SIGTERM', stop);
    signals.on('SIGHUP', reload);
    signals.on('SIGUSR1', reopen);
    // The banner goes out only once the handlers are in place: whoever waits for it (a test, a
    // supervisor) may signal at once, and a SIGTERM before then would kill us with no drain.
    const first = bound[Math.max(0, config.listen.findIndex((l) => l.mode === 'explicit'))] ?? '127.0.0.1:3128';
    io.stderr.write([
      `portcullis: listening on ${describeListeners(config.listen, bound)} (${config.rules.length} rules, default deny${config.dry_run ? ', DRY RUN: denials are logged, not enforced' : ''})`,
      `portcullis: config ${options.config ?? '(embedded default; write your own and pass -c FILE)'}`,
      ...(config.listen.some((l) => l.mode === 'explicit') ? [
        'portcullis: point clients at it:',
        `    export http_proxy=http://${first} https_proxy=http://${first}`,
        `    curl -x http://${first} https://example.com/`,
      ] : []),
      ...(config.listen.some((l) => l.mode === 'transparent-http' || l.mode === 'transparent-tls')
        ? ['portcullis: transparent listeners need firewall rules: portcullis transparent rules' + (options.config ? ` -c ${options.config}` : '')]
        : []),
      ...(config.listen.some((l) => l.mode === 'dns')
        ? ['portcullis: point clients\' resolver at the dns listener, or redirect their port 53 to it: portcullis transparent rules' + (options.config ? ` -c ${options.config}` : '')]
        : []),
      ...adminLines,
      '',
    ].join('\n'));
    summary?.start(proxy);
  });
};
