import type { FlowSummary, LiveStats } from '../../src/admin/flow-view.js';
import { apiFetch } from './api.js';

export interface StreamHandlers {
  hello(info: { lastSeq: number; capacity: number }): void;
  flows(batch: FlowSummary[]): void;
  stats(stats: LiveStats): void;
  dropped(count: number): void;
  state(state: 'live' | 'connecting' | 'offline' | 'unauthorized'): void;
}

const MAX_BACKOFF_MS = 10_000;

/**
 * Reads `/api/flows/stream` (Server-Sent Events) with fetch, so the token can go in a header
 * (EventSource cannot send one), and reconnects after the last seq it saw, with backoff.
 */
export const startLiveStream = (handlers: StreamHandlers, lastSeq: () => number): { restart(): void } => {
  let controller: AbortController | undefined;
  let backoff = 500;
  let timer: number | undefined;

  const dispatch = (name: string, data: string): void => {
    const value: unknown = JSON.parse(data);
    if (name === 'flows') handlers.flows(value as FlowSummary[]);
    else if (name === 'stats') handlers.stats(value as LiveStats);
    else if (name === 'hello') handlers.hello(value as { lastSeq: number; capacity: number });
    else if (name === 'dropped') handlers.dropped((value as { count: number }).count);
  };

  const read = async (response: Response): Promise<void> => {
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) name = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) dispatch(name, data.join('\n'));
      }
    }
  };

  const connect = async (): Promise<void> => {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    handlers.state('connecting');
    try {
      const response = await apiFetch(`/api/flows/stream?after=${lastSeq()}`, { signal: mine.signal, headers: { accept: 'text/event-stream' } });
      if (response.status === 401) {
        handlers.state('unauthorized');
        return;
      }
      if (!response.ok || response.body === null) throw new Error(`stream answered ${response.status}`);
      handlers.state('live');
      backoff = 500;
      await read(response);
    } catch {
      if (mine.signal.aborted) return;
    }
    if (mine.signal.aborted) return;
    handlers.state('offline');
    timer = window.setTimeout(() => void connect(), backoff);
    backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
  };

  void connect();
  return {
    restart() {
      if (timer !== undefined) window.clearTimeout(timer);
      void connect();
    },
  };
};
