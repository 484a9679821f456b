import type http from 'node:http';
import type { SyntheticResponse } from './deny-response.js';

/** Writes a proxy-generated response on a normal (non-CONNECT) exchange; returns the body bytes sent. */
export const sendSynthetic = (res: http.ServerResponse, response: SyntheticResponse, closeConnection = false): number => {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const body = typeof response.body === 'string' ? Buffer.from(response.body, 'utf8') : response.body;
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': String(body.length),
    ...(closeConnection ? { connection: 'close' } : {}),
  });
  const head = res.req.method === 'HEAD';
  res.end(head ? undefined : body);
  return head ? 0 : body.length;
};
