import { Writable } from 'node:stream';

/** The numbers the summary line shows. */
export interface SummarySource {
  stats(): { readonly flows: number; readonly denied: number; readonly wouldDeny: number; readonly activeConnections: number };
}

export interface ConsoleSummaryOptions {
  /** The terminal the line is drawn on (stdout). */
  readonly out: NodeJS.WritableStream & { columns?: number };
  readonly color: boolean;
  readonly intervalMs?: number;
  readonly now?: () => number;
  /** Shown at the end of the line, e.g. the dashboard address. */
  readonly suffix?: string;
}

/**
 * mitmdump's bottom line: a live summary (connections, requests per second, denied) kept
 * below the scrolling log on a terminal. Every log line goes through `wrap()` so the summary
 * is erased before the line is written and drawn again after it.
 */
export interface ConsoleSummary {
  /** A stream that writes to `target` with the summary erased and redrawn around each write. */
  wrap(target: NodeJS.WritableStream): Writable;
  /** Starts redrawing once a second with numbers from `source`. */
  start(source: SummarySource): void;
  /** The line as it would be drawn now (without control codes when color is off). */
  line(): string;
  /** Stops and erases the line. */
  stop(): void;
}

const ERASE = '\r\u001b[2K';
const DIM = '\u001b[2m';
const RED = '\u001b[31m';
const YELLOW = '\u001b[33m';
const RESET = '\u001b[0m';

const plural = (n: number, word: string): string => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

export const createConsoleSummary = (options: ConsoleSummaryOptions): ConsoleSummary => {
  const { out, color } = options;
  const now = options.now ?? Date.now;
  let source: SummarySource | undefined;
  let timer: NodeJS.Timeout | undefined;
  let shown = false;
  let previous: { at: number; flows: number } | undefined;
  let rate = 0;

  const paint = (text: string, code: string): string => (color && code !== '' ? `${code}${text}${RESET}` : text);

  const line = (): string => {
    if (source === undefined) return '';
    const stats = source.stats();
    const parts = [
      plural(stats.activeConnections, 'connection'),
      `${rate.toFixed(1)} req/s`,
      plural(stats.flows, 'flow'),
      paint(`${stats.denied.toLocaleString('en-US')} denied`, stats.denied > 0 ? RED : ''),
    ];
    if (stats.wouldDeny > 0) parts.push(paint(`${stats.wouldDeny.toLocaleString('en-US')} would-deny`, YELLOW));
    if (options.suffix) parts.push(options.suffix);
    const plain = parts.join(' · ');
    // Never wider than the terminal: a wrapped line could not be erased with one \r.
    // A terminal of unknown size (columns 0 or unset) gets 120.
    const width = Math.max(20, (out.columns !== undefined && out.columns > 0 ? out.columns : 120) - 3); // "» " and the cursor
    const visible = plain.replace(/\u001b\[[0-9;]*m/g, '');
    const text = visible.length > width ? `${visible.slice(0, width - 1)}…` : plain;
    return color ? `${DIM}»${RESET} ${text}` : `» ${text}`;
  };

  const draw = (): void => {
    if (source === undefined) return;
    out.write(`${ERASE}${line()}`);
    shown = true;
  };

  const sample = (): void => {
    if (source === undefined) return;
    const at = now();
    const { flows } = source.stats();
    if (previous !== undefined && at > previous.at) rate = ((flows - previous.flows) * 1000) / (at - previous.at);
    previous = { at, flows };
    draw();
  };

  return {
    wrap(target) {
      return new Writable({
        write(chunk: Buffer | string, _encoding, callback) {
          if (shown) out.write(ERASE);
          target.write(chunk, (error) => {
            if (source !== undefined && timer !== undefined) draw();
            callback(error ?? null);
          });
        },
      });
    },
    start(next) {
      source = next;
      previous = { at: now(), flows: next.stats().flows };
      draw();
      timer = setInterval(sample, options.intervalMs ?? 1000);
      timer.unref();
    },
    line,
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      if (shown) out.write(ERASE);
      shown = false;
    },
  };
};
