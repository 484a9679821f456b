import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import ipaddr from 'ipaddr.js';

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export const isLoopbackAddress = (address: string | undefined): boolean => {
  if (address === undefined) return false;
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(bare)) return false;
  const parsed = ipaddr.process(bare);
  return parsed.range() === 'loopback';
};

/** A bind host that only loopback clients can reach: a loopback IP or "localhost". */
export const isLoopbackBindHost = (host: string): boolean => host.toLowerCase() === 'localhost' || isLoopbackAddress(host);

export type AccessResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

const bearerToken = (req: http.IncomingMessage): string | undefined => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
};

/** Host header's name part, lowercased ("[::1]:9090" -> "[::1]"). */
const hostName = (host: string): string => {
  const lowered = host.toLowerCase();
  if (lowered.startsWith('[')) return lowered.slice(0, lowered.indexOf(']') + 1);
  const colon = lowered.lastIndexOf(':');
  return colon >= 0 ? lowered.slice(0, colon) : lowered;
};

/**
 * A name a DNS-rebinding page cannot make a browser send: an IP literal, or localhost.
 * (A rebinding attack needs the browser to believe it talks to the attacker's own name.)
 */
const rebindSafe = (host: string | undefined): boolean => {
  if (host === undefined) return true;
  const name = hostName(host);
  return name === 'localhost' || name.endsWith('.localhost') || isLoopbackAddress(name) || ipaddr.isValid(name.replace(/^\[|\]$/g, ''));
};

/** A browser's cross-site request: its Origin names another host than the one asked. */
const crossOrigin = (req: http.IncomingMessage): boolean => {
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return origin === 'null';
  try {
    return new URL(origin).host.toLowerCase() !== (req.headers.host ?? '').toLowerCase();
  } catch {
    return true;
  }
};

/**
 * Who may use the admin API. A valid `Authorization: Bearer TOKEN` always may. Without one,
 * only loopback clients may, and only under a Host name that DNS rebinding cannot forge.
 * Requests that change state (POST) are refused from another origin (CSRF).
 */
export const checkAdminAccess = (req: http.IncomingMessage, token: string | undefined, mutating: boolean): AccessResult => {
  if (mutating && crossOrigin(req)) return { ok: false, status: 403, message: 'cross-origin requests may not change state' };
  const presented = bearerToken(req);
  if (presented !== undefined) {
    if (token !== undefined && timingSafeEqual(digest(presented), digest(token))) return { ok: true };
    return { ok: false, status: 401, message: 'invalid admin token' };
  }
  if (!isLoopbackAddress(req.socket.remoteAddress)) {
    return { ok: false, status: 401, message: 'the admin API needs a token from this address: send Authorization: Bearer TOKEN' };
  }
  if (!rebindSafe(req.headers.host)) {
    return { ok: false, status: 403, message: 'without a token, use the admin API by IP address or localhost (DNS-rebinding guard)' };
  }
  return { ok: true };
};
