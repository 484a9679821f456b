/** What every proxy under test provides to the scenarios. */
import type { InterceptCa } from './intercept-ca.js';
import type { Janitor } from './janitor.js';
import type { Origin } from './origin.js';
import type { PrivateHosts } from './private-hosts.js';
import type { CpuPlan } from './procs.js';

/** baseline: another build of Portcullis (--baseline-ref), measured in the same run. */
export type PeerId = 'portcullis' | 'baseline' | 'squid' | 'tinyproxy' | 'mitmproxy';

export interface PeerContext {
  readonly janitor: Janitor;
  readonly cpus: CpuPlan;
  readonly origin: Origin;
  /** Runs a peer with origin.test in its own private /etc/hosts. */
  readonly hosts: PrivateHosts;
  /** Checkout whose bin/portcullis.js and dist/ are benchmarked. */
  readonly portcullisRoot: string;
  /**
   * Set for the interception scenarios (S4, S5, S8): decrypt CONNECT tunnels to origin.test and
   * *.origin.test with certificates signed by this CA, and verify the origin against
   * origin.caFile. Unset: tunnels are passed through (spliced) as in S2, S3, S6b, S7.
   */
  readonly intercept?: InterceptCa;
  /** Processes per proxy when the run asks for equal counts (--workers N); unset: defaults. */
  readonly workers?: number;
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
  /** Can decrypt CONNECT tunnels (TLS interception); false: interception scenarios are n/a. */
  readonly canIntercept: boolean;
  /** undefined when usable, else why not (e.g. "not installed"). */
  /** root: the Portcullis checkout (only Portcullis uses it). */
  unavailable(root?: string): string | undefined;
  version(root?: string): Promise<string>;
  /** Starts a fresh instance (new temp dir, config and port) and waits until it accepts. */
  start(ctx: PeerContext): Promise<RunningProxy>;
}
