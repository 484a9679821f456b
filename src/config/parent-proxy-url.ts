import { formatAuthority, parseAuthority, type Destination } from '../flow/destination.js';

export interface ParentProxy {
  readonly destination: Destination;
  /** "http://host:port" for messages: never the credentials. */
  readonly label: string;
  /**
   * `Proxy-Authorization` value for the parent ("Basic ..."), from the URL's user and
   * password. A secret: sent to the parent only, never logged or shown.
   */
  readonly authorization?: string;
}

export type ParentProxyResult = { ok: true; value: ParentProxy } | { ok: false; error: string };

const decodeUserinfo = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
};

/**
 * Parses `upstream.proxy` ("http://[user:password@]host[:port]"). The credentials become a
 * Basic `Proxy-Authorization` value; the label and every error leave them out.
 */
export const parseParentProxyUrl = (text: string): ParentProxyResult => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, error: 'upstream.proxy: not a URL; write e.g. http://parent:3128' };
  }
  if (url.protocol !== 'http:') return { ok: false, error: 'upstream.proxy: only http:// parents are supported' };
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') return { ok: false, error: 'upstream.proxy: give only http://host:port, without a path' };
  const authority = parseAuthority(url.host, 80);
  if (!authority.ok) return { ok: false, error: `upstream.proxy: ${authority.error}` };
  const label = `http://${formatAuthority(authority.value)}`;
  if (url.username === '' && url.password === '') return { ok: true, value: { destination: authority.value, label } };
  const user = decodeUserinfo(url.username);
  const password = decodeUserinfo(url.password);
  if (user === undefined || password === undefined) return { ok: false, error: `upstream.proxy ${label}: malformed percent-encoding in the user or password` };
  if (user === '' || user.includes(':')) return { ok: false, error: `upstream.proxy ${label}: the user name must be non-empty and hold no ":" (Basic authentication)` };
  if (/[\x00-\x1f\x7f]/.test(user + password)) return { ok: false, error: `upstream.proxy ${label}: control characters in the user or password` };
  const authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  return { ok: true, value: { destination: authority.value, label, authorization } };
};
