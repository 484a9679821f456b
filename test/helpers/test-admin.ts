import type { TestContext } from 'node:test';
import { createAdmin, type Admin, type AdminOptions } from '../../src/admin/admin.js';
import { createProxy, type Proxy } from '../../src/proxy.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { testConfig, testProxyCa, type TestConfigInput } from './test-proxy.js';

export interface TestAdmin {
  readonly proxy: Proxy;
  readonly admin: Admin;
  /** "http://127.0.0.1:PORT" of the first proxy listener. */
  readonly proxyUrl: string;
  /** "http://127.0.0.1:PORT" of the admin listener. */
  readonly adminUrl: string;
  /** Every finished flow record, as the access log gets them. */
  readonly records: FlowRecord[];
  /** Waits (bounded) until the admin has recorded at least n flows. */
  waitForFlows(n: number, timeoutMs?: number): Promise<void>;
  /** GET (or other method) on the admin listener; JSON-decoded when the answer is JSON. */
  api<T = unknown>(path: string, init?: RequestInit): Promise<{ status: number; body: T; text: string; headers: Headers }>;
}

/** A proxy on 127.0.0.1:0 with its admin listener on 127.0.0.1:0 (both closed in t.after). */
export const startTestAdmin = async (
  t: TestContext, input: TestConfigInput, options: Partial<Omit<AdminOptions, 'address'>> & { address?: string } = {},
): Promise<TestAdmin> => {
  const config = testConfig(input);
  const sink: { admin?: Admin } = {};
  const records: FlowRecord[] = [];
  const proxy = createProxy(config, {
    onFlow: (record) => {
      records.push(record);
      sink.admin?.record(record);
    },
    ...(config.ca.cert === undefined ? { certificateAuthority: await testProxyCa() } : {}),
  });
  const admin = createAdmin(proxy, { address: options.address ?? '127.0.0.1:0', flowBuffer: config.admin?.flows ?? 1000, ...options });
  sink.admin = admin;
  const [proxyAddress] = await proxy.start();
  t.after(() => proxy.close());
  const adminAddress = await admin.listen();
  admin.setReady(true);
  t.after(() => admin.close());
  const adminUrl = `http://${adminAddress.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`;
  return {
    proxy,
    admin,
    records,
    proxyUrl: `http://${proxyAddress}`,
    adminUrl,
    async waitForFlows(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (admin.liveStats().flows < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} flows, the admin saw ${admin.liveStats().flows}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async api(path, init) {
      const response = await fetch(`${adminUrl}${path}`, init);
      const text = await response.text();
      let body: unknown = text;
      if ((response.headers.get('content-type') ?? '').startsWith('application/json')) body = JSON.parse(text);
      return { status: response.status, body: body as never, text, headers: response.headers };
    },
  };
};
