import type http from 'node:http';

/**
 * Runs `callback` once the response is closed. A response whose client connection was already
 * gone when the request was handed over never emits 'close' (Node attaches that event to the
 * socket, which has closed already), so that case is caught here and reported on the next turn.
 */
export const whenResponseClosed = (res: http.ServerResponse, callback: () => void): void => {
  if (res.socket === null || res.socket.destroyed) {
    setImmediate(callback);
    return;
  }
  res.once('close', callback);
};
