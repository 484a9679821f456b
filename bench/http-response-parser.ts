/**
 * Incremental HTTP/1.x response parser for the load generator: finds each response's status,
 * skips its body (Content-Length, chunked, or until close) and reports completed responses.
 * It never keeps bodies, only counts them.
 */

export interface ParsedResponse {
  readonly status: number;
  /** The server (or proxy) will close the connection after this response. */
  readonly close: boolean;
  readonly bodyBytes: number;
}

type State = 'head' | 'body' | 'until-close' | 'chunk-size' | 'chunk-data' | 'chunk-data-crlf' | 'trailers';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;
// Header lookups on the whole head (one regex each: cheaper than splitting every response).
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})/;
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CHUNKED = /\r\ntransfer-encoding:[^\r]*chunked/i;
const CONNECTION_CLOSE = /\r\n(?:proxy-)?connection:[^\r]*close/i;
const CONNECTION_KEEP_ALIVE = /\r\n(?:proxy-)?connection:[^\r]*keep-alive/i;

export class ResponseParseError extends Error {}

export class ResponseParser {
  private state: State = 'head';
  private head: Buffer = Buffer.alloc(0);
  private line = '';
  private remaining = 0;
  private status = 0;
  private close = false;
  private bodyBytes = 0;

  /** noBody: responses carry no body (the reply to CONNECT). */
  constructor(private readonly noBody = false) {}

  /** Feeds bytes; returns the responses completed by them, in order. */
  push(chunk: Buffer): ParsedResponse[] {
    const done: ParsedResponse[] = [];
    let buf = chunk;
    while (buf.length > 0) {
      switch (this.state) {
        case 'head': {
          const searchFrom = Math.max(0, this.head.length - 3);
          this.head = this.head.length === 0 ? buf : Buffer.concat([this.head, buf]);
          const end = this.head.indexOf(CRLFCRLF, searchFrom);
          if (end < 0) {
            if (this.head.length > MAX_HEAD) throw new ResponseParseError('response head too large');
            buf = Buffer.alloc(0);
            break;
          }
          const rest = this.head.subarray(end + 4);
          this.startBody(this.head.subarray(0, end).toString('latin1'));
          this.head = Buffer.alloc(0);
          buf = rest;
          if (this.state === 'head') done.push(this.finish());
          break;
        }
        case 'body': {
          const take = Math.min(this.remaining, buf.length);
          this.remaining -= take;
          this.bodyBytes += take;
          buf = buf.subarray(take);
          if (this.remaining === 0) done.push(this.finish());
          break;
        }
        case 'until-close':
          this.bodyBytes += buf.length;
          buf = Buffer.alloc(0);
          break;
        case 'chunk-size':
        case 'chunk-data-crlf':
        case 'trailers': {
          const nl = buf.indexOf(0x0a);
          if (nl < 0) {
            this.line += buf.toString('latin1');
            if (this.line.length > 4096) throw new ResponseParseError('chunk line too long');
            buf = Buffer.alloc(0);
            break;
          }
          const line = (this.line + buf.subarray(0, nl).toString('latin1')).replace(/\r$/, '');
          this.line = '';
          buf = buf.subarray(nl + 1);
          if (this.state === 'chunk-data-crlf') {
            this.state = 'chunk-size';
          } else if (this.state === 'trailers') {
            if (line === '') done.push(this.finish());
          } else {
            const size = Number.parseInt(line.split(';')[0] ?? '', 16);
            if (!Number.isFinite(size) || size < 0) throw new ResponseParseError(`bad chunk size ${JSON.stringify(line)}`);
            if (size === 0) this.state = 'trailers';
            else { this.remaining = size; this.state = 'chunk-data'; }
          }
          break;
        }
        case 'chunk-data': {
          const take = Math.min(this.remaining, buf.length);
          this.remaining -= take;
          this.bodyBytes += take;
          buf = buf.subarray(take);
          if (this.remaining === 0) this.state = 'chunk-data-crlf';
          break;
        }
      }
    }
    return done;
  }

  /** The connection ended: completes a read-until-close body, or reports nothing. */
  end(): ParsedResponse | undefined {
    return this.state === 'until-close' ? this.finish() : undefined;
  }

  /** True while a response has started but not finished. */
  get midResponse(): boolean {
    return this.state !== 'head' || this.head.length > 0;
  }

  private startBody(head: string): void {
    const statusLine = STATUS_LINE.exec(head);
    if (!statusLine) throw new ResponseParseError(`bad status line ${JSON.stringify(head.slice(0, 80))}`);
    const http10 = statusLine[1] === '0';
    this.status = Number(statusLine[2]);
    const lengthMatch = CONTENT_LENGTH.exec(head);
    const contentLength = lengthMatch ? Number(lengthMatch[1]) : undefined;
    const chunked = CHUNKED.test(head);
    const closes = CONNECTION_CLOSE.test(head);
    this.close = closes || (http10 && !CONNECTION_KEEP_ALIVE.test(head));
    this.bodyBytes = 0;
    const bodyless = this.noBody || this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200);
    if (bodyless) this.state = 'head';
    else if (chunked) this.state = 'chunk-size';
    else if (contentLength !== undefined && Number.isFinite(contentLength)) {
      this.remaining = contentLength;
      this.state = contentLength === 0 ? 'head' : 'body';
    } else {
      this.close = true;
      this.state = 'until-close';
    }
  }

  private finish(): ParsedResponse {
    this.state = 'head';
    return { status: this.status, close: this.close, bodyBytes: this.bodyBytes };
  }
}
