import type { LoggedRequest } from './logged-request.js';

/**
 * "METHOD URL" for comments and reports, with query values hidden ("?alt=…&token=…"): a proposal
 * or a replay report is shared more widely than the access log (a pull request, a CI log), and
 * query strings carry tokens and signatures.
 */
export const exampleText = (request: Pick<LoggedRequest, 'method' | 'url'>): string => {
  const query = request.url.indexOf('?');
  if (query < 0) return `${request.method} ${request.url}`;
  const keys = request.url.slice(query + 1).split('&').map((pair) => {
    const equals = pair.indexOf('=');
    return equals < 0 ? pair : `${pair.slice(0, equals)}=…`;
  });
  return `${request.method} ${request.url.slice(0, query)}?${keys.join('&')}`;
};
