import http2 from 'node:http2';
import type tls from 'node:tls';

/** One request as the relay hands it to a connection (the subset of undici's dispatch options it uses). */
export interface UpstreamRequest {
  readonly path: string;
  readonly method: string;
  /** Flat [name, value, ...], hop-by-hop headers already removed; `Host` becomes :authority. */
  readonly headers: readonly string[];
  readonly body: AsyncIterable<Buffer> | null;
  /** Longest wait for the response head, and longest silence within the body (0: none). */
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
}

/** undici's dispatch handler, as the relay implements it: the same callbacks serve both protocols. */
export interface UpstreamHandler {
  onConnect(abort: (reason?: Error) => void): void;
  /** Returns false to pause the body until `resume` is called. */
  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  /** Returns false to pause the body until `resume` is called. */
  onData(chunk: Buffer): boolean;
  onComplete(trailers: Buffer[] | null): void;
  onError(error: Error): void;
}

/** One multiplexed HTTP/2 connection to an origin. */
export interface H2Connection {
  /** Open, not told to go away, not closing: new requests may use it. */
  usable(): boolean;
  /** Streams in progress, and requests waiting for one. */
  active(): number;
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void;
  close(): void;
}

// Connection-specific fields are not allowed in HTTP/2 (RFC 9113 §8.2.2); Host is :authority.
const NOT_IN_H2 = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

const failure = (message: string, code: string, cause?: unknown): Error =>
  Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });

/** The relay's header list as HTTP/2 headers: lowercase names, repeated names as arrays, pseudo-headers first. */
export const toH2Headers = (request: Pick<UpstreamRequest, 'method' | 'path' | 'headers'>, authority: string): http2.OutgoingHttpHeaders => {
  const out: Record<string, string | string[]> = {
    ':method': request.method, ':scheme': 'https', ':authority': authority, ':path': request.path,
  };
  for (let i = 0; i + 1 < request.headers.length; i += 2) {
    const name = (request.headers[i] as string).toLowerCase();
    const value = request.headers[i + 1] as string;
    if (NOT_IN_H2.has(name) || name.startsWith(':')) continue;
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else out[name] = [previous, value];
  }
  return out;
};

/** A response's or trailers' header object as undici's raw list ([name, value, ...] as Buffers), pseudo-headers left out. */
const rawOf = (headers: http2.IncomingHttpHeaders): Buffer[] => {
  const raw: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) raw.push(Buffer.from(name, 'latin1'), Buffer.from(String(one), 'latin1'));
  }
  return raw;
};

/** A request waiting for a free stream. */
interface Waiting {
  readonly request: UpstreamRequest;
  readonly handler: UpstreamHandler;
  readonly since: number;
  timer: NodeJS.Timeout | undefined;
}

/** What is left of a waiting request's headersTimeout (0 stays "none"; at least 1 ms otherwise). */
const remaining = (entry: Waiting): number =>
  (entry.request.headersTimeout > 0 ? Math.max(1, entry.request.headersTimeout - (Date.now() - entry.since)) : 0);

// Until the origin's SETTINGS arrive one stream runs: more could be refused (REFUSED_STREAM) by an
// origin that allows fewer than a client assumes, and a refused request with a body can't be resent.
const STREAMS_BEFORE_SETTINGS = 1;

/**
 * Starts an HTTP/2 session on a TLS socket that negotiated h2 (dialed, checked and verified by
 * the caller). At most the origin's SETTINGS_MAX_CONCURRENT_STREAMS streams run at once; the
 * requests past that wait here, in order, and those still waiting when the session goes away
 * (never sent) are handed to `redispatch`. The session closes after `idleMs` without streams.
 */
export const startH2Connection = (
  socket: tls.TLSSocket, authority: string, idleMs: number, redispatch: (request: UpstreamRequest, handler: UpstreamHandler) => void,
): H2Connection => {
  let goingAway = false;
  let streams = 0;
  const waiting: Waiting[] = [];
  let settled = false;
  const session = http2.connect(`https://${authority}`, { createConnection: () => socket });
  const limit = (): number => (settled ? session.remoteSettings.maxConcurrentStreams ?? STREAMS_BEFORE_SETTINGS : STREAMS_BEFORE_SETTINGS);
  const goAway = (): void => {
    goingAway = true;
    for (const entry of waiting.splice(0)) {
      clearTimeout(entry.timer);
      redispatch({ ...entry.request, headersTimeout: remaining(entry) }, entry.handler);
    }
  };
  session.on('error', goAway);
  session.on('goaway', goAway);
  session.on('close', goAway);
  session.on('remoteSettings', () => {
    settled = true;
    startWaiting();
  });
  session.setTimeout(idleMs, () => { if (streams === 0 && waiting.length === 0) session.close(); });

  const startWaiting = (): void => {
    while (!goingAway && waiting.length > 0 && streams < limit()) {
      const entry = waiting.shift()!;
      clearTimeout(entry.timer);
      start({ ...entry.request, headersTimeout: remaining(entry) }, entry.handler);
    }
  };

  /** Waits for a free stream; the wait counts against the request's headersTimeout, and the client may abort it. */
  const enqueue = (request: UpstreamRequest, handler: UpstreamHandler): void => {
    const entry: Waiting = { request, handler, since: Date.now(), timer: undefined };
    const drop = (error: Error): void => {
      const at = waiting.indexOf(entry);
      if (at < 0) return;
      waiting.splice(at, 1);
      clearTimeout(entry.timer);
      handler.onError(error);
    };
    if (request.headersTimeout > 0) {
      entry.timer = setTimeout(() => drop(failure('no response head in time (waiting for a free HTTP/2 stream)', 'UND_ERR_HEADERS_TIMEOUT')), request.headersTimeout);
    }
    waiting.push(entry);
    handler.onConnect((reason) => drop(reason ?? failure('request aborted', 'PCL_H2_ABORTED')));
  };

  const dispatch = (request: UpstreamRequest, handler: UpstreamHandler): void => {
    if (goingAway) redispatch(request, handler);
    else if (streams >= limit() || waiting.length > 0) enqueue(request, handler);
    else start(request, handler);
  };

  const start = (request: UpstreamRequest, handler: UpstreamHandler): void => {
    let finished = false;
    let stream: http2.ClientHttp2Stream | undefined;
    let headersTimer: NodeJS.Timeout | undefined;
    const finish = (error?: Error, trailers?: Buffer[] | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(headersTimer);
      if (error) {
        if (stream && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
        handler.onError(error);
      } else {
        handler.onComplete(trailers ?? null);
      }
    };
    try {
      stream = session.request(toH2Headers(request, authority), { endStream: request.body === null });
    } catch (error) {
      // The session closed meanwhile or a header was refused: nothing went out.
      finish(failure(`HTTP/2 request could not start: ${(error as Error).message}`,
        (error as NodeJS.ErrnoException).code === 'ERR_HTTP2_INVALID_SESSION' ? 'ECONNRESET' : 'PCL_H2_REQUEST', error));
      return;
    }
    streams += 1;
    const current = stream;
    handler.onConnect((reason) => finish(reason ?? failure('request aborted', 'PCL_H2_ABORTED')));
    if (finished) return;
    if (request.headersTimeout > 0) {
      headersTimer = setTimeout(() => finish(failure('no response head in time', 'UND_ERR_HEADERS_TIMEOUT')), request.headersTimeout);
    }
    let trailers: Buffer[] | null = null;
    current.on('response', (headers) => {
      clearTimeout(headersTimer);
      const status = Number(headers[':status']);
      if (request.bodyTimeout > 0) current.setTimeout(request.bodyTimeout, () => finish(failure('upstream went silent', 'UND_ERR_BODY_TIMEOUT')));
      const go = handler.onHeaders(status, rawOf(headers), () => current.resume(), '');
      if (go === false) current.pause();
    });
    current.on('trailers', (headers) => { trailers = rawOf(headers); });
    current.on('data', (chunk: Buffer) => {
      if (finished) return;
      if (handler.onData(chunk) === false) current.pause();
    });
    current.on('end', () => finish(undefined, trailers));
    current.on('error', (error: NodeJS.ErrnoException) => {
      // A stream the origin refused, or a session that went away before answering: nothing was
      // processed (RFC 9113 §8.7), so the relay may send it again.
      const refused = error.code === 'ERR_HTTP2_STREAM_ERROR' && current.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
      finish(failure(`HTTP/2 stream failed: ${error.message}`, refused || error.code === 'ERR_HTTP2_GOAWAY_SESSION' ? 'ECONNRESET' : error.code ?? 'PCL_H2_STREAM', error));
    });
    current.on('close', () => {
      streams -= 1;
      if (!finished) {
        const code = current.rstCode ?? 0;
        finish(failure(`HTTP/2 stream closed by the origin (code ${code})`, code === http2.constants.NGHTTP2_REFUSED_STREAM ? 'ECONNRESET' : 'UND_ERR_SOCKET'));
      }
      startWaiting();
    });
    if (request.body !== null) void pump(request.body, current).catch((error: Error) => finish(error));
  };

  return {
    usable: () => !goingAway && !session.closed && !session.destroyed,
    active: () => streams + waiting.length,
    dispatch,
    close: () => {
      goingAway = true;
      for (const entry of waiting.splice(0)) {
        clearTimeout(entry.timer);
        entry.handler.onError(failure('the upstream connection was closed', 'UND_ERR_SOCKET'));
      }
      session.destroy();
    },
  };
};

/** Writes the request body into the stream with backpressure, then ends it. */
const pump = async (body: AsyncIterable<Buffer>, stream: http2.ClientHttp2Stream): Promise<void> => {
  for await (const chunk of body) {
    if (stream.destroyed) return;
    if (!stream.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => { stream.off('drain', done); stream.off('close', done); resolve(); };
        stream.on('drain', done);
        stream.on('close', done);
      });
    }
  }
  if (!stream.destroyed) stream.end();
};
