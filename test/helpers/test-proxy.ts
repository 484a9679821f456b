import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { loadOrCreateCertificateAuthority, type CertificateAuthority } from '../../src/tls/certificate-authority.js';
import { ProxyConfigSchema, type ProxyConfig } from '../../src/config/schema.js';
import { deepFreeze } from '../../src/config/deep-freeze.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { createProxy, type Proxy } from '../../src/proxy.js';
import type { LookupAll } from '../../src/net/resolver.js';
import type { OriginalDestinationSource } from '../../src/net/original-destination.js';

export interface TestProxy {
  readonly proxy: Proxy;
  /** "http://127.0.0.1:PORT" of the first listener. */
  readonly url: string;
  readonly port: number;
  readonly flows: FlowRecord[];
  /** Waits (bounded) until at least n flows were recorded. */
  waitForFlows(n: number, timeoutMs?: number): Promise<FlowRecord[]>;
}

/** Config input as a test writes it: anything the YAML could hold. */
export type TestConfigInput = Record<string, unknown>;

/** One state dir and one proxy CA per test process (minting a CA per test would be slow and pointless). */
const stateDir = mkdtempSync(path.join(tmpdir(), 'pcl-state-'));
process.once('exit', () => rmSync(stateDir, { recursive: true, force: true }));
let sharedCa: Promise<CertificateAuthority> | undefined;
export const testProxyCa = (): Promise<CertificateAuthority> =>
  (sharedCa ??= loadOrCreateCertificateAuthority({ stateDir, leafKey: 'ecdsa', cacheSize: 1000 }));
/** Path of the PEM clients must trust to accept intercepted connections. */
export const testProxyCaPath = path.join(stateDir, 'ca.pem');

export const testConfig = (input: TestConfigInput): ProxyConfig =>
  deepFreeze(ProxyConfigSchema.parse({
    listen: [{ address: '127.0.0.1:0' }],
    state_dir: stateDir,
    // Test origins live on loopback: allow it explicitly, as design convention 13 says.
    destinations: { allow_ranges: ['127.0.0.0/8', '::1/128'] },
    ...input,
  }));

/** Starts a proxy on 127.0.0.1:0 with the given config; closed in t.after. */
export const startTestProxy = async (
  t: TestContext, input: TestConfigInput, deps: { lookup?: LookupAll; originalDestination?: OriginalDestinationSource } = {},
): Promise<TestProxy> => {
  const flows: FlowRecord[] = [];
  const config = testConfig(input);
  const proxy = createProxy(config, {
    onFlow: (record) => flows.push(record),
    // A test that brings its own CA (ca.cert/ca.key) gets it loaded by start(); the rest share one.
    ...(config.ca.cert === undefined ? { certificateAuthority: await testProxyCa() } : {}),
    ...(deps.lookup ? { lookup: deps.lookup } : {}),
    ...(deps.originalDestination ? { originalDestination: deps.originalDestination } : {}),
  });
  const [address] = await proxy.start();
  t.after(() => proxy.close());
  const port = Number(address?.split(':').pop());
  return {
    proxy,
    url: `http://127.0.0.1:${port}`,
    port,
    flows,
    async waitForFlows(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (flows.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} flows, saw ${flows.length}: ${JSON.stringify(flows)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return flows;
    },
  };
};
