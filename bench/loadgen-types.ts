/** Options and results exchanged (as JSON) between the driver and bench/loadgen.ts. */

export interface LoadOptions {
  /** run: timed load; hold: idle tunnels; first-contact: one request per name in `hosts`, one at a time. */
  readonly kind: 'run' | 'hold' | 'first-contact';
  readonly mode: 'direct' | 'forward' | 'connect';
  readonly proxyPort?: number;
  readonly originPort: number;
  readonly tls: boolean;
  /** With tls: TLS 1.2, every connection after the first resuming the first one's session. */
  readonly tlsResume?: boolean;
  readonly caFile?: string;
  readonly servername: string;
  /** Host named in CONNECT and Host: (default 127.0.0.1). */
  readonly authorityHost?: string;
  readonly path: string;
  readonly connections: number;
  readonly durationSec: number;
  readonly newConnectionPerRequest: boolean;
  readonly timeoutMs: number;
  readonly holdSeconds?: number;
  /** hold: when told to finish, first send one GET over every tunnel still open and count the 200s. */
  readonly verifyHeld?: boolean;
  /** first-contact: the names to visit (each is the CONNECT host, SNI and Host). */
  readonly hosts?: readonly string[];
}

export interface LoadResult {
  readonly requests: number;
  readonly non200: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly errorKinds: Record<string, number>;
  readonly errorSamples: string[];
  readonly elapsedSec: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly connections: number;
  /** Connections whose TLS handshake resumed a session (tlsResume). */
  readonly resumed?: number;
  /** first-contact only: the slowest request. */
  readonly maxMs?: number;
}

/** What a holder prints when it finishes (`HOLD_DONE {json}`). */
export interface HoldDone {
  /** Tunnels whose socket was still open when the holder was told to finish. */
  readonly stillOpen: number;
  /** verifyHeld: requests sent over the open tunnels that got a 200, and those that did not. */
  readonly verified: number;
  readonly verifyFailed: number;
  readonly samples: string[];
}
