import type http from 'node:http';
import type net from 'node:net';
import type { Logger } from '../logging/logger.js';
import { errorResponse, serializeResponse } from './deny-response.js';
import { sendSynthetic } from './send-synthetic.js';

/**
 * A bug in one request's handling must cost that request, never the process: a synchronous
 * throw becomes a logged 500 (or a closed socket) and everyone else keeps being served.
 */
export const containRequestErrors = <R extends http.IncomingMessage, S extends http.ServerResponse>(
  logger: Logger, handler: (req: R, res: S) => void,
) => (req: R, res: S): void => {
  try {
    handler(req, res);
  } catch (error) {
    logger.error({ err: error, url: req.url }, 'request handler failed');
    try {
      sendSynthetic(res, errorResponse(500, 'proxy_internal_error', 'internal-error', (error as Error).message), true);
    } catch {
      res.destroy();
    }
  }
};

export const containConnectErrors = (
  logger: Logger, handler: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void,
) => (req: http.IncomingMessage, socket: net.Socket, head: Buffer): void => {
  try {
    handler(req, socket, head);
  } catch (error) {
    logger.error({ err: error, url: req.url }, 'CONNECT handler failed');
    socket.end(serializeResponse(errorResponse(500, 'proxy_internal_error', 'internal-error', (error as Error).message)));
  }
};
