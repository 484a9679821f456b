import type { FlowRecord } from '../flow/flow-record.js';

/**
 * The addon API: a module listed in `addons:` whose default export is `defineAddon({...})`.
 * Hooks run in the listed order, each within `timeouts.addon`; a deciding hook that throws or
 * runs out of time fails closed for that flow (`addon-failed`), without harming other flows.
 */

/** What a deciding hook may say; returning nothing leaves the decision as it is. */
export type AddonVerdict =
  /** Allow (even what no rule allows). On a tunnel, `intercept: true` decrypts it so request hooks see its requests. */
  | { readonly verdict: 'allow'; readonly intercept?: boolean }
  /** Deny with a reason of the addon's: logged as `addon-denied` with the addon's name and this reason. */
  | { readonly verdict: 'deny'; readonly reason: string };

/** An answer the addon makes itself (requestHeaders only): the request goes nowhere. */
export interface AddonResponse {
  readonly respond: { readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body?: string };
}

/** What the policy decided so far, as hooks see it. */
export interface AddonDecisionView {
  readonly verdict: 'allow' | 'deny';
  readonly reason: string;
  readonly rule?: string;
}

/** The flow as a hook sees it. */
export interface AddonFlow {
  readonly id: string;
  readonly kind: 'tunnel' | 'http';
  readonly client: { readonly address: string; readonly port: number };
  readonly user?: string;
  readonly listener: string;
  readonly destination: { readonly host: string; readonly port: number };
  /** The TLS SNI the client sent, when known. */
  readonly sni?: string;
  readonly decision: AddonDecisionView;
}

export interface AddonClientHello {
  readonly sni?: string;
  readonly alpn: readonly string[];
  /** The hello carries Encrypted Client Hello. */
  readonly ech: boolean;
}

export interface AddonRequest {
  readonly method: string;
  /** The full URL, as logged. */
  readonly url: string;
  /** Path and query as sent. */
  readonly path: string;
  /**
   * Header names lowercased, as the client sent them (repeated names joined with ", ").
   * requestHeaders may change them: set, replace or delete a key.
   */
  readonly headers: Record<string, string>;
}

export interface AddonResponseHead {
  readonly status: number;
  /** Lowercased names; responseHeaders may change them. */
  readonly headers: Record<string, string>;
}

export interface AddonRequestFlow extends AddonFlow {
  readonly request: AddonRequest;
}

export interface AddonResponseFlow extends AddonRequestFlow {
  readonly response: AddonResponseHead;
}

type Maybe<T> = T | undefined | void | Promise<T | undefined | void>;

/** Every hook is optional; a misspelt hook name is a compile error (and a load error in plain JS). */
export interface Addon {
  /** Names the addon in logs, Proxy-Status and metrics. */
  readonly name: string;
  /** A tunnel (CONNECT or transparent TLS), before any TLS. */
  connect?(flow: AddonFlow): Maybe<AddonVerdict>;
  /** A tunnel's ClientHello, before it is spliced. */
  clientHello?(flow: AddonFlow, hello: AddonClientHello): Maybe<AddonVerdict>;
  /** A request's head, after the policy's decision and before anything goes upstream. */
  requestHeaders?(flow: AddonRequestFlow): Maybe<AddonVerdict | AddonResponse>;
  /** Each chunk of the request body as it streams up: return a Buffer to replace it, or deny. */
  request?(flow: AddonRequestFlow, chunk: Buffer): Maybe<Buffer | AddonVerdict>;
  /** The response head from the server, before the client sees it. */
  responseHeaders?(flow: AddonResponseFlow): Maybe<AddonVerdict>;
  /** Each chunk of the response body as it streams down: return a Buffer to replace it. */
  response?(flow: AddonResponseFlow, chunk: Buffer): Maybe<Buffer>;
  /** A flow failed (observer: what it returns or throws changes nothing). */
  error?(flow: FlowRecord, error: { readonly code: string; readonly message: string }): void | Promise<void>;
  /** A flow ended: its access-log record (observer). */
  done?(flow: FlowRecord): void | Promise<void>;
}

/** The names of the hooks, for the load-time check of plain JavaScript addons. */
export const HOOK_NAMES = ['connect', 'clientHello', 'requestHeaders', 'request', 'responseHeaders', 'response', 'error', 'done'] as const;

/** Declares an addon; the type check catches a misspelt hook. */
export const defineAddon = (addon: Addon): Addon => addon;
