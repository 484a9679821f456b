/**
 * A per-client rate limit across all hosts (the declarative `rate:` is per rule): each client
 * address may make REQUESTS requests per WINDOW_MS; beyond that, requests are denied until the
 * window has moved on. State lives in the addon object, so a reload starts it afresh.
 *
 *   addons: [./examples/addons/per-client-rate-limit.ts]
 */
import { defineAddon } from 'portcullis';

const REQUESTS = Number(process.env.RATE_REQUESTS ?? 100);
const WINDOW_MS = Number(process.env.RATE_WINDOW_MS ?? 60_000);

const createLimiter = () => {
  const seen = new Map<string, number[]>();
  return (client: string, now: number): boolean => {
    const recent = (seen.get(client) ?? []).filter((at) => now - at < WINDOW_MS);
    const allowed = recent.length < REQUESTS;
    if (allowed) recent.push(now);
    seen.set(client, recent);
    // Bounded: forget clients with nothing in the window once the map grows.
    if (seen.size > 10_000) for (const [key, times] of seen) if (times.every((at) => now - at >= WINDOW_MS)) seen.delete(key);
    return allowed;
  };
};

const allow = createLimiter();

export default defineAddon({
  name: 'per-client-rate-limit',
  requestHeaders(flow) {
    if (!allow(flow.client.address, Date.now())) return { verdict: 'deny', reason: `more than ${REQUESTS} requests in ${WINDOW_MS / 1000} s` };
  },
});
