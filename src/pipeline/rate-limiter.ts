import { LruCache } from '../tls/lru-cache.js';

/** How many (rule, client) buckets are kept; the least recently used go first (they are full again anyway). */
const MAX_BUCKETS = 100_000;

export interface RateLimiter {
  /**
   * Takes one request from the bucket of `key` (a rule and a client), refilled at `count` per
   * `perMs`; returns 0 when it may go, else the whole seconds until one more may.
   */
  take(key: string, rate: { readonly count: number; readonly perMs: number }, now: number): number;
}

/** Token buckets: a client may burst up to `count` requests, then goes at the rate. One per proxy process. */
export const createRateLimiter = (): RateLimiter => {
  const buckets = new LruCache<string, { tokens: number; at: number }>(MAX_BUCKETS);
  return {
    take(key, rate, now) {
      const perToken = rate.perMs / rate.count;
      const bucket = buckets.get(key) ?? { tokens: rate.count, at: now };
      bucket.tokens = Math.min(rate.count, bucket.tokens + (now - bucket.at) / perToken);
      bucket.at = now;
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil(((1 - bucket.tokens) * perToken) / 1000));
    },
  };
};
