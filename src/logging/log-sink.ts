import type fs from 'node:fs';
import type { Writable } from 'node:stream';

/** The bookkeeping of one access-log output: which writes completed, who waits for them. */
/** One output stream and the bookkeeping flush() needs: write callbacks fire in write order. */
export interface Sink {
  readonly stream: NodeJS.WritableStream;
  /** Opened by us, so ended by us (stdout is not). */
  readonly owned: boolean;
  fd: number | undefined;
  failed: boolean;
  issued: number;
  completed: number;
  readonly waiters: Array<{ readonly target: number; readonly resolve: () => void }>;
  /** Lines in each write issued and not yet completed, oldest first (a write carries a batch). */
  readonly batches: number[];
  /** Callback shared by all of this sink's writes: no closure per write. */
  readonly written: (err?: Error | null) => void;
  readonly failure: (err: Error) => void;
  /** Resolves when the sink this one replaced has closed; until then this one holds its lines. */
  readonly after: Promise<void>;
}

export const pendingBytes = (stream: NodeJS.WritableStream): number =>
  (stream as Partial<Writable>).writableLength ?? 0;

export const settleWaiters = (sink: Sink): void => {
  while (sink.waiters.length > 0 && sink.waiters[0]!.target <= sink.completed) sink.waiters.shift()!.resolve();
};

export const drained = (sink: Sink): Promise<void> =>
  sink.completed >= sink.issued
    ? Promise.resolve()
    : new Promise((resolve) => sink.waiters.push({ target: sink.issued, resolve }));

export const whenClosed = (stream: fs.WriteStream): Promise<void> =>
  new Promise((resolve) => {
    if (stream.closed) return resolve();
    stream.once('close', () => resolve());
  });

/** Open, or failed and closed. */
export const whenSettled = (stream: fs.WriteStream): Promise<void> =>
  new Promise((resolve) => {
    if (!stream.pending || stream.closed) return resolve();
    stream.once('ready', () => resolve());
    stream.once('close', () => resolve());
  });

export const errorCode = (err: Error): string => (err as NodeJS.ErrnoException).code ?? err.name;
