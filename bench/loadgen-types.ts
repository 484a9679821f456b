/** Options and results exchanged (as JSON) between the driver and bench/loadgen.ts. */

export interface LoadOptions {
  readonly kind: 'run' | 'hold';
  readonly mode: 'direct' | 'forward' | 'connect';
  readonly proxyPort?: number;
  readonly originPort: number;
  readonly tls: boolean;
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
}
