/** What every proxy under test provides to the scenarios. */
import type { Janitor } from './janitor.js';
import type { Origin } from './origin.js';
import type { CpuPlan } from './procs.js';

export type PeerId = 'portcullis' | 'squid' | 'tinyproxy' | 'mitmproxy';

export interface PeerContext {
  readonly janitor: Janitor;
  readonly cpus: CpuPlan;
  readonly origin: Origin;
}

export interface RunningProxy {
  /** Explicit proxy listener on 127.0.0.1. */
  readonly port: number;
  /** Root of the proxy's process tree (RSS is summed over it). */
  readonly pid: number;
  readonly commandLine: string;
  /** The config file as written (for the report's "exact commands"). */
  readonly configText: string;
  stop(): Promise<void>;
}

export interface ProxyPeer {
  readonly id: PeerId;
  readonly label: string;
  /** undefined when usable, else why not (e.g. "not installed"). */
  unavailable(): string | undefined;
  version(): Promise<string>;
  /** Starts a fresh instance (new temp dir, config and port) and waits until it accepts. */
  start(ctx: PeerContext): Promise<RunningProxy>;
}
