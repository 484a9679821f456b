import fs from 'node:fs';
import { Writable } from 'node:stream';
import { PortcullisError } from '../errors.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { formatConsole, formatJson, formatSquid } from './access-log-format.js';
import { newIsoSecondCache } from './iso-time.js';
import { drained, errorCode, pendingBytes, settleWaiters, whenClosed, whenSettled, type Sink } from './log-sink.js';

export type AccessLogFormat = 'json' | 'squid' | 'console';

export interface AccessLogOptions {
  readonly format: AccessLogFormat;
  /** File appended to (created 0640; its directory must exist); "-" writes to deps.stdout. */
  readonly file: string;
  /** Console format only: ANSI colors. */
  readonly color?: boolean;
}

export interface AccessLogDeps {
  readonly stdout: NodeJS.WritableStream;
  /** Write problems and drop counts; never thrown at the caller. */
  readonly onError: (err: Error) => void;
  /** How often the file's inode is compared with the path's, and failed opens are retried (default 1000). */
  readonly watchIntervalMs?: number;
  /** Lines are dropped (and counted) while more than this many bytes wait for the OS (default 8 MiB). */
  readonly maxPendingBytes?: number;
  /** A file's lines are written at most this long after the first of them is logged (default 20). */
  readonly flushDelayMs?: number;
}

export interface AccessLog {
  /** Formats and queues one line; drops it when the output is backed up or failing. Never throws. */
  write(record: FlowRecord): void;
  /** Closes and reopens the file (logrotate's rename-then-signal); no-op for stdout. */
  reopen(): Promise<void>;
  /** Resolves when every line written so far has reached the OS (or failed). */
  flush(): Promise<void>;
  /** Flushes, closes the file and stops watching it; later writes are ignored. */
  close(): Promise<void>;
}

const DEFAULT_WATCH_INTERVAL_MS = 1000;
const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;
const DEFAULT_FLUSH_DELAY_MS = 20;
/** A batch this large is written at once, without waiting for the delay. */
const FLUSH_AT_BYTES = 64 * 1024;
const FILE_MODE = 0o640;

export const createAccessLog = (options: AccessLogOptions, deps: AccessLogDeps): AccessLog => {
  const color = options.color ?? false;
  const times = newIsoSecondCache();
  const format =
    options.format === 'json'
      ? (record: FlowRecord) => formatJson(record, times)
      : options.format === 'squid'
        ? formatSquid
        : (record: FlowRecord) => formatConsole(record, { color });
  const toStdout = options.file === '-';
  const where = toStdout ? 'stdout' : options.file;
  const maxPending = deps.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  const reportedCodes = new Set<string>();
  const retiring = new Set<Promise<void>>();
  let dropped = 0;
  let closed = false;
  let closing: Promise<void> | undefined;
  let checking = false;
  let formatFailureReported = false;

  const report = (err: Error): void => {
    try {
      deps.onError(err);
    } catch {
      // A failing reporter must not reach the proxy either.
    }
  };

  const reportOnce = (code: string, message: string, cause: unknown): void => {
    if (reportedCodes.has(code)) return;
    reportedCodes.add(code);
    report(new PortcullisError('PCL_ERR_LOG_WRITE', message, { cause }));
  };

  const reportDrops = (): void => {
    if (dropped === 0) return;
    const lines = dropped;
    dropped = 0;
    report(new PortcullisError('PCL_ERR_LOG_WRITE', `access log ${where}: dropped ${lines} line(s) while the output was backed up or failing`));
  };

  const afterWrite = (sink: Sink, err: Error | null | undefined): void => {
    sink.completed += 1;
    const lines = sink.batches.shift() ?? 1;
    if (err) {
      dropped += lines;
    } else {
      if (reportedCodes.size > 0) reportedCodes.clear(); // recovered: report the next failure again
      if (dropped > 0 && pendingBytes(sink.stream) <= maxPending / 2) reportDrops();
    }
    settleWaiters(sink);
  };

  const makeSink = (stream: NodeJS.WritableStream, owned: boolean, after = Promise.resolve()): Sink => {
    const sink: Sink = {
      stream,
      owned,
      after,
      fd: undefined,
      failed: false,
      issued: 0,
      completed: 0,
      waiters: [],
      batches: [],
      written: (err) => afterWrite(sink, err),
      failure: (err) => {
        sink.failed = true;
        reportOnce(errorCode(err), `access log ${where}: ${err.message}`, err);
      },
    };
    stream.on('error', sink.failure);
    if (owned) {
      stream.once('open', (fd: number) => (sink.fd = fd));
      stream.once('close', () => (sink.fd = undefined));
    }
    return sink;
  };

  const openFile = (after?: Promise<void>): Sink => {
    let stream: fs.WriteStream;
    try {
      stream = fs.createWriteStream(options.file, { flags: 'a', mode: FILE_MODE });
    } catch (err) {
      // Invalid path arguments throw; turn that into the same asynchronous failure as ENOENT.
      const failed = new Writable() as unknown as fs.WriteStream;
      const sink = makeSink(failed, true, after);
      failed.destroy(err instanceof Error ? err : new Error(String(err)));
      return sink;
    }
    if (after !== undefined) {
      // The old and new stream may append to the same file (a no-op rotation): keep lines in order.
      stream.cork();
      void after.then(() => stream.uncork());
    }
    return makeSink(stream, true, after);
  };

  let current = toStdout ? makeSink(deps.stdout, false) : openFile();

  /** Ends a sink we replaced or are closing; its queued lines still reach its (old) file. */
  const retire = (sink: Sink): Promise<void> => {
    if (!sink.owned) return drained(sink).then(() => void sink.stream.off('error', sink.failure));
    const stream = sink.stream as fs.WriteStream;
    const done = sink.after
      .then(() => {
        if (!stream.destroyed) stream.end();
        return whenClosed(stream);
      })
      .then(() => {
        retiring.delete(done);
      });
    retiring.add(done);
    return done;
  };

  const swap = async (): Promise<void> => {
    writeBatch(); // lines logged before the swap belong to the old file
    const oldClosed = retire(current);
    current = openFile(oldClosed);
    await Promise.all([whenSettled(current.stream as fs.WriteStream), oldClosed]);
  };

  // Rotation without a signal: the path now names another file, or nothing.
  const check = (): void => {
    if (closed || checking) return;
    const sink = current;
    if (sink.failed) {
      void swap(); // retry after a failed open or write
      return;
    }
    const fd = sink.fd;
    if (fd === undefined) return;
    checking = true;
    fs.fstat(fd, (fdErr, opened) => {
      fs.stat(options.file, (pathErr, onDisk) => {
        checking = false;
        // Ignore the answer when the sink changed meanwhile: its fd number may have been reused.
        if (closed || current !== sink || sink.failed || fdErr) return;
        const gone = pathErr !== null && (pathErr.code === 'ENOENT' || pathErr.code === 'ENOTDIR');
        const moved = pathErr === null && (onDisk.ino !== opened.ino || onDisk.dev !== opened.dev);
        if (gone || moved) void swap();
      });
    });
  };

  // Lines are written in batches: to a file, those of up to flushDelayMs (or 64 KiB) in one write;
  // to stdout (written synchronously), those of one event-loop turn. A file write per line (or per
  // turn, under light load) cost a libuv pool job, thread wake-ups and a system call per request:
  // 13 % of the CPU of new spliced tunnels (S3) in a profile. Each line is still whole and in order.
  const flushDelayMs = deps.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS;
  let batch: string[] = [];
  let batchBytes = 0;
  let batchTimer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  const cancelBatchTimer = (): void => {
    if (batchTimer === undefined) return;
    if (toStdout) clearImmediate(batchTimer as NodeJS.Immediate);
    else clearTimeout(batchTimer as NodeJS.Timeout);
    batchTimer = undefined;
  };

  const writeBatch = (): void => {
    cancelBatchTimer();
    if (batch.length === 0) return;
    const text = batch.length === 1 ? (batch[0] as string) : batch.join('');
    const lines = batch.length;
    batch = [];
    batchBytes = 0;
    const sink = current;
    if (sink.failed) {
      dropped += lines;
      return;
    }
    sink.issued += 1;
    sink.batches.push(lines);
    try {
      sink.stream.write(text, sink.written);
    } catch (err) {
      sink.issued -= 1;
      sink.batches.pop();
      dropped += lines;
      reportOnce('write', `access log ${where}: ${String(err)}`, err);
    }
  };

  const timer = toStdout ? undefined : setInterval(check, deps.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS);
  timer?.unref();

  const flush = async (): Promise<void> => {
    writeBatch();
    await Promise.all([...retiring, drained(current)]);
  };

  return {
    write(record: FlowRecord): void {
      if (closed) return;
      let line: string;
      try {
        line = `${format(record)}\n`;
      } catch (err) {
        // A bug, not an I/O condition: report the first one only.
        if (!formatFailureReported) {
          formatFailureReported = true;
          report(new PortcullisError('PCL_ERR_LOG_WRITE', `access log: cannot format flow ${String(record?.id)}: ${String(err)}`, { cause: err }));
        }
        return;
      }
      const sink = current;
      if (sink.failed || pendingBytes(sink.stream) + batchBytes + line.length > maxPending) {
        dropped += 1;
        return;
      }
      batch.push(line);
      batchBytes += line.length;
      if (batchBytes >= FLUSH_AT_BYTES) writeBatch();
      else batchTimer ??= toStdout ? setImmediate(writeBatch) : setTimeout(writeBatch, flushDelayMs);
    },

    reopen: async (): Promise<void> => {
      if (closed || toStdout) return;
      await swap();
    },

    flush,

    close(): Promise<void> {
      closing ??= (async () => {
        writeBatch();
        closed = true;
        if (timer !== undefined) clearInterval(timer);
        await Promise.all([...retiring, retire(current)]);
        reportDrops();
      })();
      return closing;
    },
  };
};
