import type { Destination } from '../flow/destination.js';
import type { FlowRecord, FlowTls, HeaderPair } from '../flow/flow-record.js';
import type { Decision } from '../policy/decision.js';

/** Who connected, to which listener: known when a flow opens. */
export interface FlowOrigin {
  readonly id: string;
  readonly startedAt: number;
  readonly client: { readonly address: string; readonly port: number };
  /** "address:port" of the listener. */
  readonly listener: string;
}

/** A failure as the flow records it: a stable PCL_ERR_ code and a human detail. */
export interface FlowError {
  readonly code: string;
  readonly message: string;
}

export type Sink = (record: FlowRecord) => void;

/**
 * One flow as it happens: every stage reports what it learnt through a method named for the
 * event, and `finished()` turns it into the one immutable FlowRecord the access log, metrics
 * and the dashboard read. A class with fixed fields (not a bag of optional keys) keeps every
 * flow the same shape for V8 and makes the possible events explicit.
 */
export abstract class Flow {
  readonly id: string;
  readonly startedAt: number;
  readonly client: { readonly address: string; readonly port: number };
  readonly listener: string;
  protected method: string;
  protected url: string;
  protected host = '-';
  protected port = 0;
  protected verdict: 'allow' | 'deny' = 'deny';
  protected reason = 'unknown';
  protected rule: string | undefined;
  protected detail: string | undefined;
  protected wouldDeny = false;
  protected wouldAllow: string | undefined;
  protected status = 0;
  protected bytesUp = 0;
  protected bytesDown = 0;
  protected upstreamAddress: string | undefined;
  protected errorCode: string | undefined;
  protected userName: string | undefined;
  protected sniName: string | undefined;
  protected originalDestination: string | undefined;
  protected clientTls: FlowTls | undefined;
  protected upstreamConnectedAt: number | undefined;
  /** Bytes of the response head as sent to the client (Squid's log counts them). */
  protected responseHeadBytes: number | undefined;
  #requestHeaders: readonly HeaderPair[] | undefined;
  #sink: Sink;
  #done = false;

  constructor(origin: FlowOrigin, method: string, url: string, sink: Sink) {
    this.id = origin.id;
    this.startedAt = origin.startedAt;
    this.client = origin.client;
    this.listener = origin.listener;
    this.method = method;
    this.url = url;
    this.#sink = sink;
  }

  /** The authenticated proxy user, when there is one. */
  get user(): string | undefined {
    return this.userName;
  }

  get sni(): string | undefined {
    return this.sniName;
  }

  get isFinished(): boolean {
    return this.#done;
  }

  /** The verdict recorded so far (a dry-run would-deny counts as allow). */
  get allowed(): boolean {
    return this.verdict === 'allow';
  }

  /** The rule that decided so far, if any. */
  get decidingRule(): string | undefined {
    return this.rule;
  }

  /** The request (or CONNECT) headers as sent, already redacted. */
  requestHeaders(headers: readonly HeaderPair[]): void {
    this.#requestHeaders = headers;
  }

  /** Where the client wants to go, as the listener identified it. */
  identified(destination: Destination, url: string): void {
    this.host = destination.host.host;
    this.port = destination.port;
    this.url = url;
  }

  authenticated(user: string): void {
    this.userName = user;
  }

  /** The client connected through a firewall redirect to this "ip:port". */
  redirectedFrom(originalDestination: string): void {
    this.originalDestination = originalDestination;
  }

  sawSni(name: string): void {
    this.sniName = name;
  }

  /**
   * The decision in force. `enforced: false` is a dry run: a denial is recorded as a pass
   * that would have been denied.
   */
  decided(decision: Decision, enforced = true): void {
    this.reason = decision.reason;
    this.rule = decision.rule;
    if (decision.verdict === 'allow') {
      this.verdict = 'allow';
      return;
    }
    this.detail = decision.detail;
    if (decision.wouldAllow !== undefined) this.wouldAllow = decision.wouldAllow;
    if (enforced) {
      this.verdict = 'deny';
    } else {
      this.verdict = 'allow';
      this.wouldDeny = true;
    }
  }

  /** Refused before any policy decision (malformed input, limits, a local answer's kind). */
  refused(reason: string, detail?: string): void {
    this.verdict = 'deny';
    this.reason = reason;
    this.detail = detail;
  }

  /** Answered by the proxy itself without a policy question (help page, CA download). */
  servedLocally(reason: string): void {
    this.verdict = 'allow';
    this.reason = reason;
  }

  /** A note on the decision that changes nothing (e.g. why an SNI-less client was let through). */
  noted(detail: string): void {
    this.detail ??= detail;
  }

  /** The upstream connection is open to this exact "ip:port" (the checked address). */
  connectedTo(address: string, at?: number): void {
    this.upstreamAddress = address;
    if (at !== undefined) this.upstreamConnectedAt = at;
  }

  /** The status line sent to the client (200 for an established tunnel). */
  answered(status: number): void {
    this.status = status;
  }

  failed(error: FlowError): void {
    this.errorCode = error.code;
    this.detail = error.message;
  }

  /** Only when nothing else failed first: a client that left is the consequence, not the cause. */
  clientLeft(): void {
    this.errorCode ??= 'PCL_ERR_CLIENT_ABORTED';
  }

  /** The status sent to the client so far (0: none yet). */
  get answeredStatus(): number {
    return this.status;
  }

  get failure(): string | undefined {
    return this.errorCode;
  }

  transferred(up: number, down: number): void {
    this.bytesUp = up;
    this.bytesDown = down;
  }

  /** Bytes of the response head on the wire (status line and headers), as Squid's log counts them; 0 is none. */
  responseHeadSent(bytes: number): void {
    if (bytes > 0) this.responseHeadBytes = bytes;
  }

  /** Every byte of this response that reached the client's connection: what is not body is head and framing. */
  sentToClient(bytes: number): void {
    this.responseHeadSent(Math.max(0, bytes - this.bytesDown));
  }

  /** The proxy answered itself: `head` bytes of status line and headers, then `body` bytes. */
  answeredWith(head: number, body: number): void {
    this.responseHeadBytes = head;
    this.bytesDown = body;
  }

  /** Builds the record and hands it on; later calls do nothing. */
  finished(now: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#sink(this.toRecord(now));
  }

  protected abstract toRecord(now: number): FlowRecord;

  /** The fields every flow kind has; kinds add theirs. Undefined optional fields are left out. */
  protected baseRecord(now: number, kind: FlowRecord['kind']): Mutable<FlowRecord> {
    const record: Mutable<FlowRecord> = {
      id: this.id, kind, startedAt: this.startedAt, durationMs: Math.max(0, now - this.startedAt),
      client: this.client, listener: this.listener, method: this.method, url: this.url, host: this.host, port: this.port,
      verdict: this.verdict, reason: this.reason, status: this.status, bytesUp: this.bytesUp, bytesDown: this.bytesDown,
    };
    if (this.rule !== undefined) record.rule = this.rule;
    if (this.detail !== undefined) record.detail = this.detail;
    if (this.wouldDeny) record.wouldDeny = true;
    if (this.wouldAllow !== undefined) record.wouldAllow = this.wouldAllow;
    if (this.upstreamAddress !== undefined) record.upstreamAddress = this.upstreamAddress;
    if (this.errorCode !== undefined) record.errorCode = this.errorCode;
    if (this.userName !== undefined) record.user = this.userName;
    if (this.sniName !== undefined) record.sni = this.sniName;
    if (this.originalDestination !== undefined) record.originalDestination = this.originalDestination;
    if (this.clientTls !== undefined) record.tls = this.clientTls;
    if (this.#requestHeaders !== undefined) record.requestHeaders = this.#requestHeaders;
    if (this.responseHeadBytes !== undefined) record.responseHeadBytes = this.responseHeadBytes;
    return record;
  }
}

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
