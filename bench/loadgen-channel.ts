/**
 * One client connection of the load generator: TCP to the origin or the proxy, optionally a
 * CONNECT through the proxy, optionally TLS on top; then one request at a time (no pipelining).
 */
import net from 'node:net';
import tls from 'node:tls';
import { ResponseParser, type ParsedResponse } from './http-response-parser.js';

export interface ChannelTarget {
  /** direct: to the origin; forward: absolute-form to the proxy; connect: CONNECT tunnel. */
  readonly mode: 'direct' | 'forward' | 'connect';
  readonly proxyPort: number | undefined;
  readonly originPort: number;
  readonly tls: boolean;
  /** Built once per process (with the origin's CA): building one per connection costs milliseconds. */
  readonly secureContext: tls.SecureContext | undefined;
  readonly servername: string;
  /** Host in the CONNECT line and the Host header (a name, so TLS SNI can match it). */
  readonly authorityHost: string;
  /**
   * Set: session resumption (the secureContext caps TLS at 1.2). The first handshake of the process is a full one; its
   * session is kept here and every later connection resumes it (an abbreviated handshake, no
   * key exchange or certificate check), so the load generator and nginx stay cheap per connection.
   */
  readonly resumption?: { session: Buffer | undefined };
}

export class ChannelError extends Error {
  constructor(readonly kind: string, message: string) {
    super(message);
  }
}

const once = (socket: net.Socket, event: 'connect' | 'secureConnect', timeoutMs: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new ChannelError('timeout', `${event} timed out`)); }, timeoutMs);
    const onOk = (): void => { cleanup(); resolve(); };
    const onErr = (err: Error): void => { cleanup(); reject(new ChannelError(event === 'connect' ? 'connect' : 'tls', err.message)); };
    const onClose = (): void => { cleanup(); reject(new ChannelError(event === 'connect' ? 'connect' : 'tls', 'closed')); };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off(event, onOk).off('error', onErr).off('close', onClose);
    };
    socket.once(event, onOk).once('error', onErr).once('close', onClose);
  });

/** Sends CONNECT and waits for the proxy's reply head; resolves with its status. */
const connectThrough = (socket: net.Socket, authority: string, timeoutMs: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const parser = new ResponseParser(true);
    const timer = setTimeout(() => { cleanup(); reject(new ChannelError('timeout', 'CONNECT reply timed out')); }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      let replies: ParsedResponse[];
      try { replies = parser.push(chunk); } catch (err) { cleanup(); reject(new ChannelError('parse', (err as Error).message)); return; }
      const reply = replies[0];
      if (reply) { cleanup(); resolve(reply.status); }
    };
    const onErr = (err: Error): void => { cleanup(); reject(new ChannelError('connect-reply', err.message)); };
    const onClose = (): void => { cleanup(); reject(new ChannelError('connect-reply', 'closed before the CONNECT reply')); };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onErr).off('close', onClose);
      socket.pause();
    };
    socket.on('data', onData).once('error', onErr).once('close', onClose);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });

export class Channel {
  private readonly parser = new ResponseParser();
  private pending: { resolve: (r: ParsedResponse) => void; reject: (e: Error) => void } | undefined;
  private dead: ChannelError | undefined;
  /** performance.now() when the outstanding request was sent (for the watchdog). */
  sentAt = 0;

  /** resumed: the TLS handshake resumed an earlier session. */
  private constructor(readonly socket: net.Socket, private readonly requestBytes: Buffer, readonly resumed: boolean) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new ChannelError('socket', err.message)));
    socket.on('close', () => {
      const last = this.parser.end();
      if (last && this.pending) { const p = this.pending; this.pending = undefined; p.resolve(last); }
      this.fail(new ChannelError('closed', 'connection closed before the response'));
    });
    socket.resume();
  }

  static async open(target: ChannelTarget, path: string, closeAfter: boolean, timeoutMs: number): Promise<Channel> {
    const port = target.mode === 'direct' ? target.originPort : (target.proxyPort ?? 0);
    const raw = net.connect({ host: '127.0.0.1', port });
    raw.setNoDelay(true);
    raw.on('error', () => { /* reported through the promises below or the channel */ });
    try {
      await once(raw, 'connect', timeoutMs);
      if (target.mode === 'connect') {
        const status = await connectThrough(raw, `${target.authorityHost}:${target.originPort}`, timeoutMs);
        if (status !== 200) throw new ChannelError(`connect-status-${status}`, `CONNECT answered ${status}`);
      }
      let socket: net.Socket = raw;
      let resumed = false;
      if (target.tls) {
        const { resumption } = target;
        const secure = tls.connect({
          socket: raw, servername: target.servername, secureContext: target.secureContext,
          ...(resumption?.session ? { session: resumption.session } : {}),
        });
        secure.on('error', () => { /* reported below or by the channel */ });
        await once(secure, 'secureConnect', timeoutMs);
        if (resumption && !secure.isSessionReused()) resumption.session = secure.getSession();
        resumed = secure.isSessionReused();
        socket = secure;
      }
      const scheme = target.tls ? 'https' : 'http';
      const authority = `${target.authorityHost}:${target.originPort}`;
      const requestTarget = target.mode === 'forward' ? `${scheme}://${authority}${path}` : path;
      const request = Buffer.from(
        `GET ${requestTarget} HTTP/1.1\r\nHost: ${authority}\r\nUser-Agent: portcullis-bench\r\n` +
        `Connection: ${closeAfter ? 'close' : 'keep-alive'}\r\n\r\n`,
      );
      return new Channel(socket, request, resumed);
    } catch (err) {
      raw.destroy();
      throw err instanceof ChannelError ? err : new ChannelError('connect', (err as Error).message);
    }
  }

  /** Sends one request and resolves with its response (rejects on close, error, bad bytes). */
  request(now: number): Promise<ParsedResponse> {
    if (this.dead) return Promise.reject(this.dead);
    this.sentAt = now;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(this.requestBytes);
    });
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  destroy(reason?: ChannelError): void {
    if (reason) this.fail(reason);
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let responses: ParsedResponse[];
    try {
      responses = this.parser.push(chunk);
    } catch (err) {
      this.fail(new ChannelError('parse', (err as Error).message));
      this.socket.destroy();
      return;
    }
    for (const response of responses) {
      const p = this.pending;
      if (!p) { this.fail(new ChannelError('unsolicited', 'response without a request')); this.socket.destroy(); return; }
      this.pending = undefined;
      p.resolve(response);
    }
  }

  private fail(err: ChannelError): void {
    this.dead ??= err;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }
}
