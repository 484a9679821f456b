import type { FlowDns, FlowRecord, FlowTls, HeaderPair } from '../flow/flow-record.js';
import { Flow, type FlowOrigin, type Sink } from './flow-base.js';

export type { FlowError, FlowOrigin } from './flow-base.js';

/** A CONNECT tunnel or a transparent TLS connection. */
export class TunnelFlow extends Flow {
  #mode: 'splice' | 'intercept' | undefined;

  constructor(origin: FlowOrigin, url: string, sink: Sink) {
    super(origin, 'CONNECT', url, sink);
  }

  spliced(): void {
    this.#mode = 'splice';
  }

  intercepted(): void {
    this.#mode = 'intercept';
  }

  /** The client's TLS as the proxy terminated it (intercepted tunnels). */
  clientTlsEstablished(facts: FlowTls): void {
    this.clientTls = facts;
  }

  get tls(): FlowTls | undefined {
    return this.clientTls;
  }

  protected toRecord(now: number): FlowRecord {
    const record = this.baseRecord(now, 'tunnel');
    if (this.#mode !== undefined) record.tunnelMode = this.#mode;
    if (this.upstreamConnectedAt !== undefined) record.timings = { upstreamConnectedAt: this.upstreamConnectedAt };
    return record;
  }
}

/** One HTTP request: forwarded, refused or answered by the proxy; inside a tunnel or not. */
export class HttpFlow extends Flow {
  readonly parentId: string | undefined;
  #responseHeaders: readonly HeaderPair[] | undefined;
  #contentType: string | undefined;
  #responseStartedAt: number | undefined;

  constructor(origin: FlowOrigin, method: string, url: string, sink: Sink, parent?: TunnelFlow) {
    super(origin, method, url, sink);
    this.parentId = parent?.id;
    if (parent !== undefined) {
      if (parent.user !== undefined) this.userName = parent.user;
      if (parent.tls !== undefined) this.clientTls = parent.tls;
    }
  }

  /** The response head as sent to the client (already redacted); `at` when it came from upstream. */
  responded(status: number, headers: readonly HeaderPair[], at?: number): void {
    this.status = status;
    this.#responseHeaders = headers;
    if (at !== undefined) this.#responseStartedAt = at;
    for (const [name, value] of headers) {
      if (name.toLowerCase() === 'content-type') this.#contentType = value;
    }
  }

  get responseStarted(): boolean {
    return this.#responseHeaders !== undefined;
  }

  protected toRecord(now: number): FlowRecord {
    const record = this.baseRecord(now, 'http');
    if (this.parentId !== undefined) record.parentId = this.parentId;
    if (this.#responseHeaders !== undefined) record.responseHeaders = this.#responseHeaders;
    if (this.#contentType !== undefined) record.contentType = this.#contentType;
    if (this.#responseStartedAt !== undefined) record.timings = { responseStartedAt: this.#responseStartedAt };
    if (this.upstreamConnectedAt !== undefined) record.timings = { ...record.timings, upstreamConnectedAt: this.upstreamConnectedAt };
    return record;
  }
}

/** One DNS query to the DNS listener: method is the query type, url the queried name. */
export class DnsFlow extends Flow {
  readonly transport: 'udp' | 'tcp';
  #rcode = '-';
  #answers: readonly string[] = [];

  constructor(origin: FlowOrigin, type: string, name: string, transport: 'udp' | 'tcp', sink: Sink) {
    super(origin, type, name, sink);
    this.transport = transport;
  }

  /** The response sent: its code and what it carried (addresses, or records in presentation form). */
  respondedWith(rcode: string, answers: readonly string[]): void {
    this.#rcode = rcode;
    this.#answers = answers;
  }

  protected toRecord(now: number): FlowRecord {
    const record = this.baseRecord(now, 'dns');
    const dns: FlowDns = { transport: this.transport, rcode: this.#rcode, answers: this.#answers };
    record.dns = dns;
    return record;
  }
}

export type AnyFlow = TunnelFlow | HttpFlow | DnsFlow;
