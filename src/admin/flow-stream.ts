import type http from 'node:http';
import type { FlowRing } from './flow-ring.js';
import type { FlowSummary, FlowView, LiveStats } from './flow-view.js';
import { BASE_HEADERS, sendError } from './http-replies.js';
import { toFlowSummary } from './to-flow-view.js';

export interface FlowStreamOptions {
  readonly ring: FlowRing;
  readonly stats: () => LiveStats;
  /** Flows are sent in batches this often (default 100 ms). */
  readonly batchMs?: number;
  /** Flows waiting for one slow client; beyond, the oldest are dropped and counted (default 2000). */
  readonly maxQueue?: number;
  /** At most this many flows of history when a client connects (default 2000). */
  readonly maxBacklog?: number;
  /** Concurrent stream clients (default 32). */
  readonly maxClients?: number;
  readonly statsMs?: number;
  readonly keepaliveMs?: number;
}

/**
 * The live flow stream (`GET /api/flows/stream`, Server-Sent Events). Each client gets the
 * kept history after its `after` seq, then new flows in batches. Memory per client is bounded:
 * a client that reads too slowly loses the oldest waiting flows and is told how many.
 */
export interface FlowStream {
  publish(view: FlowView): void;
  attach(req: http.IncomingMessage, res: http.ServerResponse, after: number | undefined): void;
  clients(): number;
  /** Ends every stream. */
  close(): void;
}

interface Client {
  readonly res: http.ServerResponse;
  queue: FlowSummary[];
  dropped: number;
  blocked: boolean;
}

const BACKLOG_CHUNK = 200;

const event = (name: string, data: unknown, id?: number): string =>
  `event: ${name}\n${id !== undefined ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

export const createFlowStream = (options: FlowStreamOptions): FlowStream => {
  const batchMs = options.batchMs ?? 100;
  const maxQueue = options.maxQueue ?? 2000;
  const maxBacklog = options.maxBacklog ?? 2000;
  const maxClients = options.maxClients ?? 32;
  const statsMs = options.statsMs ?? 1000;
  const keepaliveMs = options.keepaliveMs ?? 15_000;
  const clients = new Set<Client>();
  let timer: NodeJS.Timeout | undefined;
  let lastStats = 0;
  let lastKeepalive = 0;

  const write = (client: Client, text: string): void => {
    if (!client.res.write(text)) {
      client.blocked = true;
      client.res.once('drain', () => {
        client.blocked = false;
      });
    }
  };

  const flush = (client: Client): void => {
    if (client.blocked) return;
    if (client.dropped > 0) {
      write(client, event('dropped', { count: client.dropped }));
      client.dropped = 0;
    }
    if (client.queue.length === 0) return;
    const batch = client.queue;
    client.queue = [];
    write(client, event('flows', batch, (batch[batch.length - 1] as FlowSummary).seq));
  };

  const tick = (): void => {
    const now = Date.now();
    const sendStats = now - lastStats >= statsMs;
    const statsText = sendStats ? event('stats', options.stats()) : '';
    if (sendStats) lastStats = now;
    const keepalive = now - lastKeepalive >= keepaliveMs;
    if (keepalive) lastKeepalive = now;
    for (const client of clients) {
      flush(client);
      if (client.blocked) continue;
      if (sendStats) write(client, statsText);
      else if (keepalive) write(client, ': keepalive\n\n');
    }
  };

  const stopTimerIfIdle = (): void => {
    if (clients.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    publish(view) {
      if (clients.size === 0) return;
      const summary = toFlowSummary(view);
      for (const client of clients) {
        client.queue.push(summary);
        if (client.queue.length > maxQueue) {
          client.queue.shift();
          client.dropped += 1;
        }
      }
    },
    attach(req, res, after) {
      if (clients.size >= maxClients) {
        sendError(res, 503, `too many live streams (${maxClients}); close another dashboard tab`);
        return;
      }
      res.writeHead(200, {
        ...BASE_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no', connection: 'keep-alive',
      });
      req.socket.setNoDelay(true);
      const client: Client = { res, queue: [], dropped: 0, blocked: false };
      const { ring } = options;
      write(client, `retry: 1000\n${event('hello', { lastSeq: ring.lastSeq(), capacity: ring.capacity })}`);
      const from = Math.max(after ?? 0, ring.lastSeq() - maxBacklog);
      const backlog = ring.list({ after: from }).map(toFlowSummary);
      for (let i = 0; i < backlog.length; i += BACKLOG_CHUNK) {
        const chunk = backlog.slice(i, i + BACKLOG_CHUNK);
        write(client, event('flows', chunk, (chunk[chunk.length - 1] as FlowSummary).seq));
      }
      write(client, event('stats', options.stats()));
      clients.add(client);
      res.once('close', () => {
        clients.delete(client);
        stopTimerIfIdle();
      });
      if (timer === undefined) {
        timer = setInterval(tick, batchMs);
        timer.unref();
      }
    },
    clients: () => clients.size,
    close() {
      for (const client of clients) client.res.end();
      clients.clear();
      stopTimerIfIdle();
    },
  };
};
