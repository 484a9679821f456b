import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { LruCache } from '../tls/lru-cache.js';

export type AuthResult =
  | { readonly ok: true; readonly user: string }
  | { readonly ok: false; readonly reason: 'credentials-missing' | 'credentials-invalid'; readonly detail: string };

export interface BasicAuthenticator {
  /** Checks a Proxy-Authorization header; answers from a cache when it was verified recently. */
  authenticate(header: string | undefined): AuthResult | Promise<AuthResult>;
  /** Value of the Proxy-Authenticate header of a 407. */
  readonly challenge: string;
}

const CACHE_TTL_MS = 5 * 60 * 1000;
const CACHE_SIZE = 10_000;

/**
 * Proxy Basic authentication (RFC 7617) against bcrypt hashes. bcrypt is slow on purpose, so
 * a verified header is cached (by its SHA-256, never in clear) for a few minutes; a failed one
 * is not, so a wrong password costs the attacker a full bcrypt each time.
 */
export const createBasicAuthenticator = (users: ReadonlyMap<string, string>, realm: string, now: () => number): BasicAuthenticator => {
  const verified = new LruCache<string, { user: string; until: number }>(CACHE_SIZE);
  return {
    challenge: `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"`,
    authenticate(header) {
      if (!header) return { ok: false, reason: 'credentials-missing', detail: 'this proxy requires authentication (Proxy-Authorization: Basic)' };
      const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
      if (!match) return { ok: false, reason: 'credentials-invalid', detail: 'Proxy-Authorization is not Basic credentials' };
      const key = createHash('sha256').update(header).digest('base64');
      const cached = verified.get(key);
      if (cached && cached.until > now()) return { ok: true, user: cached.user };
      const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon >= 0 ? decoded.slice(0, colon) : decoded;
      const password = colon >= 0 ? decoded.slice(colon + 1) : '';
      const hash = users.get(user);
      const invalid: AuthResult = { ok: false, reason: 'credentials-invalid', detail: `wrong user name or password for "${user}"` };
      // Compare against a dummy hash for unknown users too, so timing does not reveal who exists.
      return bcrypt.compare(password, hash ?? '$2b$10$CwTycUXWue0Thq9StjUM0uJ8.MvJ7Yf0zyzqyMNMxNMEoaBdE1Ome').then((same) => {
        if (!same || hash === undefined) return invalid;
        verified.set(key, { user, until: now() + CACHE_TTL_MS });
        return { ok: true, user };
      });
    },
  };
};
