import type http from 'node:http';

/** Headers on every admin answer: no caching of live data, no sniffing, no framing. */
export const BASE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
});

export const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
};

export const sendText = (res: http.ServerResponse, status: number, text: string | Buffer, contentType = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void => {
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': contentType, 'content-length': String(body.length), ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
};

/** `{ "error": message }` with the status; the shape every API failure has. */
export const sendError = (res: http.ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void =>
  sendJson(res, status, { error: message, ...extra }, headers);

/** Reads a small request body; rejects beyond `maxBytes`. */
export const readBody = (req: http.IncomingMessage, maxBytes: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new Error(`request body larger than ${maxBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
