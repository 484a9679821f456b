import type { FlowRecord } from '../../../src/flow/flow-record.js';

/** A finished HTTP flow record; tests override what they look at. */
export const makeRecord = (overrides: Partial<FlowRecord> = {}): FlowRecord => ({
  id: 'f-1',
  kind: 'http',
  startedAt: 1_700_000_000_000,
  durationMs: 12,
  client: { address: '10.0.0.5', port: 51234 },
  listener: '127.0.0.1:3128',
  method: 'GET',
  url: 'http://example.com/',
  host: 'example.com',
  port: 80,
  verdict: 'allow',
  reason: 'rule-matched',
  rule: 'example',
  status: 200,
  bytesUp: 0,
  bytesDown: 100,
  ...overrides,
});
