import type http from 'node:http';
import type { FlowBuilder } from '../flow/flow-builder.js';
import type { ProxyRuntime } from '../runtime.js';
import { formatProxyStatus } from './proxy-status.js';
import type { SyntheticResponse } from './deny-response.js';
import { CA_DOWNLOAD_HOST } from './ca-download.js';

export type Authentication = { readonly ok: true; readonly user?: string } | { readonly ok: false; readonly response: SyntheticResponse };

/** Requests the proxy answers itself (help page, CA download) need no credentials. */
const servedLocally = (target: string): boolean =>
  target.startsWith('/') || /^http:\/\/portcullis\.invalid(?::80)?(?:[/?]|$)/i.test(target) || target.toLowerCase().startsWith(`${CA_DOWNLOAD_HOST}:`);

const challenge = (header: string, reason: string, detail: string): SyntheticResponse => ({
  status: 407,
  headers: {
    'content-type': 'text/plain; charset=utf-8',
    'proxy-authenticate': header,
    'proxy-status': formatProxyStatus('http_request_denied', reason),
    'x-portcullis-reason': reason,
    'cache-control': 'no-store',
  },
  body: `Portcullis: Proxy Authentication Required\n\nreason: ${reason}\ndetail: ${detail}\n`,
});

/**
 * Identifies the client: by its TLS client certificate when it presented one to a listener with
 * `tls.client_ca`, else by Proxy-Authorization when `auth.basic` is configured. Synchronous when no auth is set
 * or the credentials were verified recently; a Promise otherwise (bcrypt). Records the user, or
 * the refusal, on the flow.
 */
export const authenticateClient = (
  runtime: ProxyRuntime, req: http.IncomingMessage, flow: FlowBuilder,
): Authentication | Promise<Authentication> => {
  const byCertificate = runtime.certificateUsers.get(req.socket);
  if (byCertificate !== undefined) {
    flow.fields.user = byCertificate;
    return { ok: true, user: byCertificate };
  }
  const authenticator = runtime.state().authenticator;
  if (!authenticator || servedLocally(req.url ?? '')) return { ok: true };
  const conclude = (result: Awaited<ReturnType<typeof authenticator.authenticate>>): Authentication => {
    if (result.ok) {
      flow.fields.user = result.user;
      return { ok: true, user: result.user };
    }
    Object.assign(flow.fields, { verdict: 'deny', reason: result.reason, detail: result.detail });
    return { ok: false, response: challenge(authenticator.challenge, result.reason, result.detail) };
  };
  const header = req.headers['proxy-authorization'];
  const result = authenticator.authenticate(Array.isArray(header) ? header[0] : header);
  return result instanceof Promise ? result.then(conclude) : conclude(result);
};

/** Runs `next` with the outcome, synchronously when possible. */
export const afterAuthentication = (outcome: Authentication | Promise<Authentication>, next: (auth: Authentication) => void): void => {
  if (outcome instanceof Promise) void outcome.then(next);
  else next(outcome);
};
