import { exampleText } from './example-text.js';
import type { LoggedRequest } from './logged-request.js';
import type { SetAside } from './proposal.js';

const MAX_EXAMPLES = 3;

interface Group {
  why: string;
  host: string;
  count: number;
  readonly clients: Map<string, number>;
  readonly examples: Set<string>;
}

/** Collects lines that are not proposed, grouped by why and host, most frequent first. */
export interface SetAsideCollector {
  add(request: LoggedRequest, why: string): void;
  list(): SetAside[];
  total(): number;
}

export const hostLabel = (request: LoggedRequest): string =>
  request.target?.destination.host.host ?? (request.url === '' ? '-' : request.url.replace(/^[a-z]+:\/\//i, '').split(/[/?#]/)[0] ?? '-');

export const createSetAsideCollector = (): SetAsideCollector => {
  const groups = new Map<string, Group>();
  let total = 0;
  return {
    add(request, why) {
      total += 1;
      const host = hostLabel(request);
      const key = `${why}\u0000${host}`;
      let group = groups.get(key);
      if (group === undefined) {
        group = { why, host, count: 0, clients: new Map(), examples: new Set() };
        groups.set(key, group);
      }
      group.count += 1;
      group.clients.set(request.client, (group.clients.get(request.client) ?? 0) + 1);
      if (group.examples.size < MAX_EXAMPLES) group.examples.add(exampleText(request));
    },
    list: () => [...groups.values()]
      .sort((a, b) => b.count - a.count || a.why.localeCompare(b.why) || a.host.localeCompare(b.host))
      .map((group) => ({ why: group.why, host: group.host, count: group.count, clients: group.clients, examples: [...group.examples] })),
    total: () => total,
  };
};
