import pino from 'pino';
import type { FlowRecord } from '../flow/flow-record.js';
import { createAccessLog, type AccessLog } from '../logging/access-log.js';
import { createProxy, type Proxy } from '../proxy.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

/**
 * One worker process of `portcullis run --workers N`: serves the listeners it shares with its
 * siblings (node:cluster hands out the connections). A file access log is appended to by every
 * worker itself (one write per batch of whole lines, O_APPEND, so lines never interleave);
 * finished flows go to the primary only when it needs them (dashboard, metrics, a log to
 * stdout), because serializing each one over IPC cost about as much as forwarding the request.
 */
// Flows go to the primary in one message per event-loop turn (at most FLUSH_COUNT per message):
// batched under load, immediate when idle, so the log and the dashboard stay current.
const FLUSH_COUNT = 200;

const send = (message: FromWorker): void => {
  process.send?.(message);
};

const run = (): void => {
  const logger = pino({ base: { worker: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: false }));
  let proxy: Proxy | undefined;
  let accessLog: AccessLog | undefined;
  let sendFlows = true;
  let pending: FlowRecord[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const flush = (): void => {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    if (!proxy) return;
    send({ type: 'flows', records: pending, stats: proxy.stats() });
    pending = [];
  };
  const onFlow = (record: FlowRecord): void => {
    accessLog?.write(record);
    if (!sendFlows) return;
    pending.push(record);
    if (pending.length >= FLUSH_COUNT) flush();
    else scheduled ??= setImmediate(flush);
  };
  // Connection counts change without flows finishing; report them every second.
  const heartbeat = setInterval(flush, 1000);
  heartbeat.unref();

  process.on('message', (message: ToWorker) => {
    if (message.type === 'start') {
      sendFlows = message.sendFlows;
      if (message.logHere) {
        accessLog = createAccessLog(
          { format: message.config.log.format, file: message.config.log.file },
          { stdout: process.stdout, onError: (error: Error) => logger.error({ err: error }, 'access log write failed') },
        );
      }
      try {
        // The primary created or loaded the CA before forking and said so, once.
        // Each worker sees part of every client's DNS queries: its budgets are its share of the configured ones.
        proxy = createProxy(message.config, { logger, onFlow, announceCa: false, dnsBudgetShare: 1 / Math.max(1, message.workers) });
      } catch (error) {
        send({ type: 'failed', message: (error as Error).message });
        return;
      }
      proxy.start().then(
        (addresses) => send({ type: 'listening', addresses }),
        (error: Error) => send({ type: 'failed', message: error.message }),
      );
    } else if (message.type === 'reload') {
      // A reload with addons loads them first (asynchronously); the old policy serves meanwhile.
      Promise.resolve().then(() => proxy?.reload(message.config)).then(
        () => send({ type: 'reloaded', seq: message.seq, ok: true }),
        (error: Error) => send({ type: 'reloaded', seq: message.seq, ok: false, message: error.message }),
      );
    } else if (message.type === 'reopen-log') {
      void accessLog?.reopen();
    } else if (message.type === 'shutdown') {
      clearInterval(heartbeat);
      void (proxy?.close({ graceMs: message.graceMs }) ?? Promise.resolve()).then(async () => {
        flush();
        await accessLog?.close();
        process.disconnect?.();
      });
    }
  });
  // The primary went away: nothing to report to, stop.
  process.on('disconnect', () => {
    void (proxy?.close() ?? Promise.resolve()).then(() => process.exit(0));
  });
  // Signals are the primary's to handle; it tells workers what to do.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1'] as const) process.on(signal, () => {});
  // IPC messages that arrive before a listener exists are dropped: say when we can take them.
  send({ type: 'ready' });
};

run();
