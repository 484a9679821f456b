import { CA_DOWNLOAD_HOST } from '../http/ca-download.js';
import type { SyntheticResponse } from '../http/deny-response.js';
import { formatProxyStatus } from '../http/proxy-status.js';
import type { MaybePromise, PipelineContext } from './context.js';
import type { AnyFlow } from './flow.js';
import type { Refusal } from './refusal.js';

/** What a client presented to identify itself. */
export interface Credentials {
  /** The user a verified client certificate names (TLS to the proxy with `tls.client_ca`). */
  readonly certificateUser: string | undefined;
  /** The Proxy-Authorization header, as sent. */
  readonly proxyAuthorization: string | undefined;
  /** The request target as sent: requests the proxy answers itself need no credentials. */
  readonly target: string;
}

export type Authentication = { readonly ok: true; readonly user?: string } | { readonly ok: false; readonly refusal: Refusal };

/** The help page and the CA download are served to anyone: a client needs the CA before it can do anything. */
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
 * The authenticate stage: by the client certificate when one was verified, else by
 * Proxy-Authorization when `auth.basic` is configured. Synchronous when no auth is set or the
 * credentials were verified recently; a Promise otherwise (bcrypt). Records the user, or the
 * refusal (407 with a challenge), on the flow.
 */
export const authenticate = (context: PipelineContext, flow: AnyFlow, credentials: Credentials): MaybePromise<Authentication> => {
  if (credentials.certificateUser !== undefined) {
    flow.authenticated(credentials.certificateUser);
    return { ok: true, user: credentials.certificateUser };
  }
  const authenticator = context.state().authenticator;
  if (!authenticator || servedLocally(credentials.target)) return { ok: true };
  const conclude = (result: Awaited<ReturnType<typeof authenticator.authenticate>>): Authentication => {
    if (result.ok) {
      flow.authenticated(result.user);
      return { ok: true, user: result.user };
    }
    flow.refused(result.reason, result.detail);
    return { ok: false, refusal: { response: challenge(authenticator.challenge, result.reason, result.detail) } };
  };
  const result = authenticator.authenticate(credentials.proxyAuthorization);
  return result instanceof Promise ? result.then(conclude) : conclude(result);
};
