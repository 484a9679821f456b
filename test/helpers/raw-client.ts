import net from 'node:net';

/**
 * Sends raw bytes to a port and collects everything that comes back until the peer closes,
 * or until `idleMs` passes without data (bounded by timeoutMs).
 */
export const sendRaw = (port: number, payload: string | Buffer, options: { idleMs?: number; timeoutMs?: number; halfClose?: boolean } = {}): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let idle: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(idle);
      clearTimeout(overall);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const overall = setTimeout(done, options.timeoutMs ?? 5000);
    const armIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(done, options.idleMs ?? 1000);
    };
    socket.on('connect', () => {
      socket.write(payload);
      if (options.halfClose) socket.end();
      armIdle();
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      armIdle();
    });
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', (error) => {
      if (chunks.length > 0) done();
      else reject(error);
    });
  });

/** Status code of the first response in a raw reply, or 0. */
export const statusOf = (reply: string): number => Number(/^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1] ?? 0);
