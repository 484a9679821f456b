import type http from 'node:http';
import type { SyntheticResponse } from './deny-response.js';

/** Writes a proxy-generated response on a normal (non-CONNECT) exchange. */
export const sendSynthetic = (res: http.ServerResponse, response: SyntheticResponse, closeConnection = false): void => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = typeof response.body === 'string' ? Buffer.from(response.body, 'utf8') : response.body;
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': String(body.length),
    ...(closeConnection ? { connection: 'close' } : {}),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
};
