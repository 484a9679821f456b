import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { ProxyConfig } from '../config/schema.js';
import type { FlowRecord } from '../flow/flow-record.js';
import type { Logger } from '../logging/logger.js';
import type { Listener } from '../net/listener.js';
import { announceCa, type Proxy } from '../proxy.js';
import { buildProxyState, type ProxyState } from '../proxy-state.js';
import { caOptionsFromConfig, loadOrCreateCertificateAuthority, type CertificateAuthority } from '../tls/certificate-authority.js';
import type { FromWorker, ToWorker, WorkerStats } from './worker-protocol.js';

const START_TIMEOUT_MS = 30_000;
const MAX_RESTARTS_PER_MINUTE = 5;
const RELOAD_TIMEOUT_MS = 10_000;

/**
 * `run --workers N`: N processes share the listeners (node:cluster); this primary holds the CA
 * (created before any worker starts, so they never race to create it), the policy state for the
 * admin API, and receives every flow for the one access log. It offers the same surface as an
 * in-process Proxy, so `run` treats both alike.
 */
export interface WorkerPoolOptions {
  /** Workers append to the access-log file themselves; the primary does not see their flows for it. */
  readonly workersLog: boolean;
  /** Workers send each finished flow to the primary (for the dashboard and metrics). */
  readonly sendFlows: boolean;
}

export interface WorkerPool extends Proxy {
  /** Tells every worker to reopen its access-log file (SIGUSR1, after rotation). */
  reopenLogs(): void;
}

export const createWorkerPool = (
  config: ProxyConfig, count: number, deps: { logger: Logger; onFlow: (record: FlowRecord) => void }, options: WorkerPoolOptions,
): WorkerPool => {
  let current: ProxyState = buildProxyState(config);
  let authority: CertificateAuthority | undefined;
  let bound: readonly string[] = [];
  let stopping = false;
  const stats = new Map<Worker, WorkerStats>();
  const restarts: number[] = [];
  /** Per worker, what to call when it answers the reload in progress: undefined = applied, else why not. */
  const reloadAcks = new Map<Worker, { seq: number; answer: (refusal: string | undefined) => void }>();
  let reloadSeq = 0;

  const sendTo = (worker: Worker, message: ToWorker): void => {
    if (worker.isConnected()) worker.send(message);
  };
  const workers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

  const fork = (): Promise<readonly string[]> => new Promise((resolve, reject) => {
    const worker = cluster.fork();
    const timer = setTimeout(() => reject(new Error(`worker ${worker.process.pid} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        sendTo(worker, { type: 'start', config: current.config, logHere: options.workersLog, sendFlows: options.sendFlows, workers: count });
      } else if (message.type === 'listening') {
        clearTimeout(timer);
        resolve(message.addresses);
      } else if (message.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(message.message));
      } else if (message.type === 'flows') {
        stats.set(worker, message.stats);
        for (const record of message.records) deps.onFlow(record);
      } else if (message.type === 'reloaded') {
        if (!message.ok) deps.logger.error({ worker: worker.process.pid, err: message.message }, 'a worker refused the reload');
        const pending = reloadAcks.get(worker);
        if (pending?.seq === message.seq) pending.answer(message.ok ? undefined : message.message ?? 'refused');
      }
    });
    worker.once('exit', (code, signal) => {
      stats.delete(worker);
      // A worker that died mid-reload gets the new config when it is replaced.
      reloadAcks.get(worker)?.answer(undefined);
      if (stopping) return;
      deps.logger.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting another');
      const now = Date.now();
      restarts.push(now);
      while (restarts.length > 0 && (restarts[0] ?? now) < now - 60_000) restarts.shift();
      if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
        deps.logger.error({}, `workers keep exiting (${restarts.length} in a minute); not restarting any more`);
        return;
      }
      fork().catch((error: Error) => deps.logger.error({ err: error }, 'a replacement worker failed to start'));
    });
  });

  const listeners: Listener[] = config.listen.map((listenerConfig, index) => ({
    config: listenerConfig,
    address: () => bound[index] ?? listenerConfig.address,
    listen: async () => bound[index] ?? listenerConfig.address,
    close: async () => {},
    connections: () => [...stats.values()].reduce((sum, s) => sum + s.activeConnections, 0),
  }));

  return {
    reopenLogs: () => {
      for (const worker of workers()) sendTo(worker, { type: 'reopen-log' });
    },
    listeners,
    state: () => current,
    ca: () => {
      if (!authority) throw new Error('the certificate authority is not loaded yet');
      return authority;
    },
    stats: () => {
      const all = [...stats.values()];
      const sum = (pick: (s: WorkerStats) => number): number => all.reduce((total, s) => total + pick(s), 0);
      return { flows: sum((s) => s.flows), denied: sum((s) => s.denied), wouldDeny: sum((s) => s.wouldDeny), activeConnections: sum((s) => s.activeConnections) };
    },
    async start() {
      authority = await loadOrCreateCertificateAuthority(caOptionsFromConfig(config));
      announceCa(deps.logger, authority);
      // Workers accept on the shared listening sockets themselves (as nginx workers do): with
      // node's default round-robin the primary accepts every connection and passes it over IPC,
      // which made new-connection-per-request loads slower with two workers than with one.
      cluster.schedulingPolicy = cluster.SCHED_NONE;
      cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)), args: [], silent: false });
      const started = await Promise.all(Array.from({ length: count }, () => fork()));
      bound = started[0] ?? [];
      return [...bound];
    },
    async reload(next) {
      const state = buildProxyState(next);
      current = state;
      // Settles when every worker answered, so "config reloaded" means every process enforces it.
      reloadSeq += 1;
      const seq = reloadSeq;
      const answers = workers().filter((worker) => worker.isConnected()).map((worker) => new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(() => finish(`worker ${worker.process.pid} did not answer within ${RELOAD_TIMEOUT_MS} ms`), RELOAD_TIMEOUT_MS);
        const finish = (refusal: string | undefined): void => {
          clearTimeout(timer);
          if (reloadAcks.get(worker)?.seq === seq) reloadAcks.delete(worker);
          resolve(refusal);
        };
        // A newer reload supersedes an older one still awaited: the older counts as applied.
        reloadAcks.get(worker)?.answer(undefined);
        reloadAcks.set(worker, { seq, answer: finish });
        sendTo(worker, { type: 'reload', config: next, seq });
      }));
      const refusals = (await Promise.all(answers)).filter((refusal): refusal is string => refusal !== undefined);
      if (refusals.length > 0) throw new Error(`the new config was not applied everywhere: ${refusals.join('; ')}`);
    },
    async close(options = {}) {
      stopping = true;
      const graceMs = options.graceMs ?? 0;
      const all = workers();
      await Promise.all(all.map((worker) => new Promise<void>((resolve) => {
        if (worker.isDead()) {
          resolve();
          return;
        }
        const kill = setTimeout(() => worker.kill('SIGKILL'), graceMs + 5000);
        worker.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        sendTo(worker, { type: 'shutdown', graceMs });
      })));
    },
  };
};
